"""The demo patient's sessions: scripted conversations between a client and a clinician,
spoken by two espeak-ng voices over a face, so every panel of the review page has something
true to show on a fresh machine.

Each client turn carries an emotion in its words (a GoEmotions-like sentence) and in its voice:
espeak-ng's speed, pitch and loudness are set per turn as an actor would (anger loud and fast,
sadness slow, quiet and low). The earlier session is the harder one; the later one, lighter.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
from scipy.signal import resample_poly

from clinic.demo_media import ClipInfo, ClipOptions, demo_clip_write

RATE_HZ = 16_000
CLIENT_VOICE = "en-us+m3"
CLINICIAN_VOICE = "en-us+f4"
PAUSE_S = 1.2  # between turns
ESPEAK_MISSING = (
    "espeak-ng is not installed, so the demo sessions have a tone instead of two voices; "
    "install it (Debian/Ubuntu: `sudo apt-get install espeak-ng`, or `make system-deps`) and "
    "run the demo again for sessions with speech."
)

# (words per minute, pitch 0-99, amplitude 0-200) per emotion of a turn
PROSODY: dict[str, tuple[int, int, int]] = {
    "neutral": (150, 50, 100),
    "sad": (115, 30, 70),
    "angry": (190, 60, 190),
    "fear": (175, 75, 110),
    "happy": (170, 70, 130),
    "surprise": (165, 85, 140),
}


@dataclass(frozen=True)
class Turn:
    role: str  # "client" or "clinician"
    text: str
    emotion: str = "neutral"


@dataclass(frozen=True)
class DemoSession:
    encounter_id: str  # marks the demo's own sessions, so seeding is idempotent
    days_ago: int
    turns: tuple[Turn, ...]


def _c(text: str, emotion: str = "neutral") -> Turn:
    return Turn("client", text, emotion)


def _t(text: str) -> Turn:
    return Turn("clinician", text)


DEMO_SESSIONS: tuple[DemoSession, ...] = (
    DemoSession(
        "demo-session-1",
        days_ago=14,
        turns=(
            _t("Welcome back. How have the last two weeks been for you?"),
            _c("Honestly, not good. I have been tired all the time.", "sad"),
            _t("Tell me more about the tiredness. When is it worst?"),
            _c("In the mornings. I lie there and I cannot see the point of getting up.", "sad"),
            _c("Everything feels heavy and grey, and I miss how things used to be.", "sad"),
            _t("That sounds really hard. What happened at work this week?"),
            _c("My manager took my project away in front of everyone.", "angry"),
            _c("I was furious. It was so unfair, and nobody even asked me!", "angry"),
            _t("You sound angry about it. What did you do with that anger?"),
            _c("Nothing. I went home and stared at the wall all evening.", "sad"),
            _t("And the presentation next week, how are you feeling about it?"),
            _c("Terrified. What if I freeze and everyone sees I cannot do this?", "fear"),
            _c("I keep waking up at four in the morning with my heart racing.", "fear"),
            _t("Let us slow down and breathe together for a moment."),
            _c("Okay. That helps a little, I think.", "neutral"),
            _t("Is there anything this week that went well, even something small?"),
            _c(
                "My sister called on Sunday. We laughed about our old dog. That was lovely.",
                "happy",
            ),
            _t("What was it about that call that felt good?"),
            _c("She listened. She did not try to fix anything. She just laughed with me.", "happy"),
            _t("And how did you feel after you put the phone down?"),
            _c("Empty again, almost at once. Like the warmth drained out of the room.", "sad"),
            _c("I sat in the kitchen and cried for a long time. I do not even know why.", "sad"),
            _t("It sounds as if the contrast made the loneliness sharper."),
            _c("Yes. Exactly that. And then I was angry at myself for crying.", "angry"),
            _c("I thought, what is wrong with you, pull yourself together!", "angry"),
            _t("That is a harsh voice to hear from yourself. Whose voice does it sound like?"),
            _c("My father's, I suppose. He never let us cry.", "sad"),
            _t("Let us come back to that next time, gently. How is your sleep otherwise?"),
            _c("Bad. Four hours, maybe five. I dread the nights now.", "fear"),
            _c("I lie there listening to my heart and I am sure something is wrong.", "fear"),
            _t("Have you been able to keep any routine in the mornings?"),
            _c("Not really. Some days I do not get dressed until the afternoon.", "sad"),
            _t("I would like you to notice moments like the call with your sister this week."),
            _c("I can try. I will write them down.", "neutral"),
            _t("And a short walk each morning, even ten minutes, before you check your phone."),
            _c("Ten minutes. Okay. I think I can manage ten minutes.", "neutral"),
        ),
    ),
    DemoSession(
        "demo-session-2",
        days_ago=1,
        turns=(
            _t("Good to see you. How has this week been?"),
            _c("Better, actually. I have been sleeping through most nights.", "happy"),
            _t("That is a real change. What do you think helped?"),
            _c("The walks in the morning. And writing down the good moments.", "neutral"),
            _c("I found eleven things on my list. I was amazed!", "surprise"),
            _t("How did the presentation go in the end?"),
            _c("I was scared before I started, my hands were shaking.", "fear"),
            _c("But then it went well. People clapped. I felt so proud and happy!", "happy"),
            _t("You sound pleased. Did anything difficult come up?"),
            _c("My manager criticised one slide, and for a moment I was annoyed.", "angry"),
            _c("But I let it go. It was a fair point, really.", "neutral"),
            _t("What would you like to focus on next?"),
            _c("Keeping the routine. And maybe calling my sister more often.", "happy"),
            _t("Tell me about the walks. What are they like?"),
            _c("I go along the river before work. There is a heron that is always there.", "happy"),
            _c("I have started saying good morning to it. That sounds silly, I know.", "happy"),
            _t("It does not sound silly at all. What happens in your body on those walks?"),
            _c(
                "My shoulders come down. I breathe properly for the first time in the day.",
                "neutral",
            ),
            _t("And the nights? You said you are sleeping through most of them."),
            _c("Mostly. On Tuesday I woke at four again and my heart was racing.", "fear"),
            _c("But I did the breathing, and I was asleep again in twenty minutes.", "neutral"),
            _t("That is a real skill you have built. How did your father's voice show up?"),
            _c("It was there on Wednesday. I made a mistake in a report and it started.", "angry"),
            _c("What an idiot, it said. I was so angry, I wanted to throw my laptop!", "angry"),
            _t("What did you do instead?"),
            _c("I wrote down what I would say to a friend who made that mistake.", "neutral"),
            _c("And it was kind. It surprised me how kind it was.", "surprise"),
            _t("Do you still feel the sadness we talked about two weeks ago?"),
            _c("Sometimes, in the evenings. It is quieter now, but it is still there.", "sad"),
            _c("I miss having someone to tell about my day.", "sad"),
            _t("That sounds like a good plan. Let us keep the walks in it too."),
            _c("Yes. I am looking forward to the weekend, for once.", "happy"),
            _c("My sister is coming to stay. We are going to the coast.", "happy"),
        ),
    ),
)


def demo_session_clip(session: DemoSession, path: Path) -> tuple[ClipInfo, bool]:
    """Write `session`'s clip to `path`; True when it was spoken (espeak-ng was there)."""
    if shutil.which("espeak-ng") is None:
        return demo_clip_write(path, ClipOptions(duration_s=60.0)), False
    speech = conversation_audio(session.turns)
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "conversation.wav"
        sf.write(wav, speech, RATE_HZ, subtype="PCM_16")
        duration_s = len(speech) / RATE_HZ
        return demo_clip_write(path, ClipOptions(duration_s=duration_s, speech_path=wav)), True


def conversation_audio(turns: Sequence[Turn]) -> npt.NDArray[np.float32]:
    """The turns spoken one after another with a pause between, 16 kHz mono."""
    pause = np.zeros(round(PAUSE_S * RATE_HZ), dtype=np.float32)
    parts: list[npt.NDArray[np.float32]] = [pause]
    for turn in turns:
        speed, pitch, amplitude = PROSODY[turn.emotion]
        voice = CLIENT_VOICE if turn.role == "client" else CLINICIAN_VOICE
        parts += [_spoken(turn.text, voice, speed, pitch, amplitude), pause]
    return np.concatenate(parts)


def _spoken(
    text: str, voice: str, speed: int, pitch: int, amplitude: int
) -> npt.NDArray[np.float32]:
    command = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-a", str(amplitude)]
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "turn.wav"
        # The script's own sentences, no shell, the Debian program found on PATH.
        subprocess.run(  # noqa: S603
            [*command, "-w", str(wav), text],
            check=True,
            capture_output=True,
        )
        samples, rate = sf.read(wav, dtype="float32")
    return np.asarray(resample_poly(samples, RATE_HZ, rate), dtype=np.float32).clip(-1.0, 1.0)
