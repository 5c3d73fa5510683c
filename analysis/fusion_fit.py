"""Fit fusion on labelled multimodal recordings: `python -m analysis evaluate fusion [--write]`.

No labelled therapy recording exists here, so the dev set is built from two labelled sources
(shared/data): each recording is 4-second segments (96 unless `--segments`), each of one emotion,
showing a FER+ `valid` face whose crowd majority is that emotion while a RAVDESS actor says a
sentence acted with it; one actor per recording, the client. Each channel reads it as the
pipeline does:

- face: the face stage on the generated video (MTCNN, the FER+ CNN, the temporal head);
- voice: the speech-emotion head's probabilities for the sentence, from a head trained with
  that actor left out (so the voice is never one the head heard), and its prosody;
- text: the text stage on the segment's words. Half the recordings keep RAVDESS's own words
  ("Kids are talking by the door" or "Dogs are sitting by the door" for every emotion: words
  that carry none, as many a consulting-room sentence does not); the other half put in their
  place a GoEmotions `dev` sentence labelled with the segment's emotion, as if the client had
  said it, so that how far words are worth trusting can be measured at all. Words weigh in
  the fused emotions by their confidence times their share of affect (VADER's lexicon), so
  plain words such as RAVDESS's weigh nothing there.

Fusion then runs as in a timeline (`build_timeline`), and each 2-second window is scored
against its segment's label: a channel with no reading in a window counts as wrong. What is
fitted is one reliability per modality (`fuse_emotions`): how far its emotions are trusted
beside its own confidence, chosen on a grid to maximise window accuracy; then a temperature
for the fused emotions, so that their confidence matches how often they are right. Both are
fitted for the logarithmic pool fusion uses and, as baselines, for the linear pool (a
weighted mean) it used before and for the logarithmic pool weighing words whatever their
affect, as it did before. Figures are cross-validated by recording (fitted on three
quarters, read on the rest), all three in the same run. Each recording is also compared
window by window with its best single channel (an exact sign test), so a shortfall of one
window is told apart from one beyond chance, and the number of recordings that chance alone
would put below it is given beside the number that are. `--write` keeps the logarithmic pool's
reliabilities fitted on every recording in `analysis/fusion_reliability.json`.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analysis.fusion import LINEAR, LOGARITHMIC, fuse_emotions
from analysis.labels import EMOTIONS

SEGMENTS = 6
SEGMENT_S = 4.0
SPEECH_AT_S = 0.3  # the sentence starts this far into its segment
VIDEO_SIZE = (480, 270)
VIDEO_FPS = 10
AUDIO_RATE_HZ = 16000
CHANNELS = ("face", "voice", "text")
GRID = {
    "voice": (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0),
    "text": (0.0, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0),
}
NOW, BEFORE = "fused, logarithmic pool", "fused, linear pool (before)"
# the logarithmic pool as it weighed words before: by their confidence, whatever their affect
ALL_WORDS = "fused, logarithmic pool, words weighed whatever their affect (before)"
FUSED = (NOW, BEFORE, ALL_WORDS)
QUIET = " without the voice head"  # as a default deployment fuses: no emotions from the voice
FOLDS = 4
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Segment:
    label: int  # index into EMOTIONS
    face: np.ndarray  # (48, 48) uint8 FER+ face
    speech: np.ndarray  # 16 kHz mono, trimmed
    words: str
    voice_probs: np.ndarray  # (7,) from the head that never heard this actor


@dataclass(frozen=True)
class Recording:
    name: str
    actor: int
    segments: tuple[Segment, ...]


def random_label(rng: np.random.Generator, number: int, segment: int) -> int:
    """Each segment's emotion drawn at random (the fusion dev set)."""
    return int(rng.integers(len(EMOTIONS)))


def build_recordings(
    count: int,
    seed: int,
    *,
    segment_count: int = SEGMENTS,
    label_at: Callable[[np.random.Generator, int, int], int] = random_label,
) -> list[Recording]:
    """`count` recordings of `segment_count` segments, one actor each in turn; every other one with
    GoEmotions words. `label_at(rng, recording, segment)` gives each segment's emotion."""
    import librosa
    import soundfile as sf

    from analysis.face.ferplus import load_ferplus
    from analysis.voice.ravdess import acted_sentences
    from analysis.voice.speech_emotion import HEAD_PATH
    from analysis.voice.train_speech_emotion import (
        RAVDESS_TO_MOODLINE,
        TRIM_TOP_DB,
        fit_head,
        labelled_features,
    )

    rng = np.random.default_rng(seed)
    faces = load_ferplus()["valid"]
    by_label = {k: list(np.flatnonzero(faces.majority == k)) for k in range(len(EMOTIONS))}
    sentences = acted_sentences()
    from analysis.text.train_head import load_goemotions

    texts, text_labels = load_goemotions("dev")
    said = {
        k: [t for t, label in zip(texts, text_labels, strict=True) if label == k]
        for k in range(len(EMOTIONS))
    }
    features, labels, actors = labelled_features()
    shipped = json.loads(HEAD_PATH.read_text())
    c, temperature = shipped["evaluation"]["regularisation"], shipped["evaluation"]["temperature"]
    recordings = []
    for number in range(count):
        actor = 1 + number % 8
        held = actors == actor
        head = fit_head(features[~held], labels[~held], c)
        probs = head.probabilities(features[held]) ** (1 / temperature)
        probs /= probs.sum(axis=1, keepdims=True)
        own = [s for s in sentences if s.actor == actor]  # the order labelled_features read them
        segments = []
        for k in range(segment_count):
            label = label_at(rng, number, k)
            choices = [
                i for i, s in enumerate(own) if RAVDESS_TO_MOODLINE[s.emotion] == EMOTIONS[label]
            ]
            pick = int(rng.choice(choices))
            samples, _ = sf.read(own[pick].path, dtype="float32")
            speech, _ = librosa.effects.trim(samples, top_db=TRIM_TOP_DB)
            speech = speech[: int((SEGMENT_S - SPEECH_AT_S - 0.2) * AUDIO_RATE_HZ)]
            # odd recordings: the emotion's words, from GoEmotions; even: RAVDESS's own
            words = str(rng.choice(said[label])) if number % 2 else own[pick].words
            face = faces.images[int(rng.choice(by_label[label]))]
            segments.append(Segment(label, face, np.asarray(speech), words, probs[pick]))
        kind = "GoEmotions words" if number % 2 else "RAVDESS words"
        recordings.append(
            Recording(f"recording {number:02d} (actor {actor:02d}, {kind})", actor, tuple(segments))
        )
    return recordings


def write_video(path: Path, recording: Recording) -> Path:
    import av

    from analysis.face.ferplus_align import ferplus_canvas

    width, height = VIDEO_SIZE
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(
            "libx264", rate=VIDEO_FPS, options={"crf": "20", "preset": "ultrafast"}
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for segment in recording.segments:
            canvas = ferplus_canvas(segment.face)  # (192, 192, 3)
            frame = np.full((height, width, 3), 96, dtype=np.uint8)
            top, left = (height - 192) // 2, (width - 192) // 2
            frame[top : top + 192, left : left + 192] = canvas
            for _ in range(int(SEGMENT_S * VIDEO_FPS)):
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def channel_windows(recording: Recording, face_output: Any) -> list[dict[str, Any]]:
    """The recording's timeline windows with every channel's reading, fusion as shipped."""
    from analysis.fusion import FusionOptions, build_timeline
    from analysis.stage_outputs import SpokenPiece, VoiceOutput, VoiceSpeaker
    from analysis.text.lines import scored_lines
    from analysis.text.transcribe import Utterance, Word
    from analysis.voice.prosody import prosody_features

    pieces, utterances = [], []
    for k, segment in enumerate(recording.segments):
        start = k * SEGMENT_S + SPEECH_AT_S
        end = start + len(segment.speech) / AUDIO_RATE_HZ
        pieces.append(
            SpokenPiece(
                round(start, 3),
                round(end, 3),
                "S1",
                (-20.0,),
                prosody_features(segment.speech).rounded(),
                emotions={e: float(p) for e, p in zip(EMOTIONS, segment.voice_probs, strict=True)},
            )
        )
        words = segment.words.split()
        step = (end - start) / len(words)
        utterances.append(
            Utterance(
                start,
                end,
                segment.words,
                tuple(
                    Word(start + i * step, start + (i + 1) * step, w, 0.9)
                    for i, w in enumerate(words)
                ),
            )
        )
    voice = VoiceOutput(
        method="single",
        details={},
        speakers=(
            VoiceSpeaker("S1", "client", "guessed", sum(p.end_s - p.start_s for p in pieces)),
        ),
        prosody=True,
        pieces=tuple(pieces),
    )
    document = build_timeline(
        duration_s=SEGMENT_S * len(recording.segments),
        source={"file_name": recording.name},
        # Every segment shows another FER+ face: each is a track of its own, all of the client.
        options=FusionOptions(
            role_overrides=tuple((f"face:{t.track_id}", "client") for t in face_output.tracks),
            reliability={},
            temperature=1.0,
        ),
        face=face_output,
        voice=voice,
        text=scored_lines(utterances, pieces),
        session_gaps=[],
        models=[],
    )
    windows: list[dict[str, Any]] = document["windows"]
    return windows


def readings(windows: Sequence[dict[str, Any]], recording: Recording) -> list[dict[str, Any]]:
    """Per window: its label and each channel's (probabilities, confidence) or None."""
    rows = []
    for window in windows:
        middle = (window["start_s"] + window["end_s"]) / 2
        label = recording.segments[min(len(recording.segments) - 1, int(middle // SEGMENT_S))].label
        channels: dict[str, tuple[np.ndarray, float] | None] = {}
        words_confidence = None
        for name in CHANNELS:
            part = window["modalities"].get(name)
            if part is None or part["emotions"] is None:
                channels[name] = None
            else:
                channels[name] = (
                    np.array([part["emotions"][e] for e in EMOTIONS]),
                    part["emotions_confidence"],
                )
                if name == "text":
                    words_confidence = part["confidence"]
        rows.append(
            {
                "label": label,
                "channels": channels,
                "recording": recording.name,
                "words_confidence": words_confidence,
            }
        )
    return rows


def fused_probs(
    row: Mapping[str, Any],
    reliability: Mapping[str, float],
    temperature: float = 1.0,
    pool: str = LOGARITHMIC,
) -> np.ndarray | None:
    present = {name: value for name, value in row["channels"].items() if value is not None}
    return fuse_emotions(present, reliability, temperature, pool)


def _predicted(reading: np.ndarray | None) -> int:
    """The label a reading names; -1 for no reading, which is never right."""
    return -1 if reading is None else int(np.argmax(reading))


def _predictions(rows: Sequence[Mapping[str, Any]], read: Any) -> tuple[list[int], np.ndarray]:
    """Predicted label per row (-1 when there is no reading) and (n, 7) probabilities."""
    predicted, probs = [], np.full((len(rows), len(EMOTIONS)), 1 / len(EMOTIONS))
    for i, row in enumerate(rows):
        p = read(row)
        predicted.append(_predicted(p))
        if p is not None:
            probs[i] = p
    return predicted, probs


def _right(rows: Sequence[Mapping[str, Any]], read: Any) -> np.ndarray:
    """Per row, whether `read` names its label."""
    return np.array([_predicted(read(row)) == int(row["label"]) for row in rows], dtype=bool)


def scores(rows: Sequence[Mapping[str, Any]], read: Any) -> dict[str, float]:
    from analysis.calibration import calibration_report

    labels = [int(row["label"]) for row in rows]
    predicted, probs = _predictions(rows, read)
    correct = np.array(predicted) == np.array(labels)
    recalls = [correct[np.array(labels) == k].mean() for k in sorted(set(labels))]
    return {
        "accuracy": round(float(correct.mean()), 4),
        "uar": round(float(np.mean(recalls)), 4),
        "ece": round(float(calibration_report(probs, labels)["ece"]), 4),
        "coverage": round(float(np.mean([p >= 0 for p in predicted])), 4),
    }


@dataclass(frozen=True)
class WonAndLost:
    """One reading against another over the same windows."""

    won: int  # windows the first gets right and the other wrong
    lost: int  # the reverse
    p: float  # exact two-sided sign test that both are equally often right (McNemar's, exact)


def windows_won_and_lost(rows: Sequence[Mapping[str, Any]], read: Any, against: Any) -> WonAndLost:
    """How `read` fares against `against`, window by window (see WonAndLost)."""
    from scipy.stats import binomtest

    mine, theirs = _right(rows, read), _right(rows, against)
    won, lost = int((mine & ~theirs).sum()), int((theirs & ~mine).sum())
    p = binomtest(won, won + lost).pvalue if won + lost else 1.0
    return WonAndLost(won, lost, round(float(p), 4))


def expected_below_by_chance(compared: Sequence[WonAndLost]) -> float:
    """How many recordings chance alone would put below their best channel: where fusion and
    that channel disagree, fusion is right some share of the time over all recordings; were each
    disagreement a draw at that share, a recording falls below when it loses more than it wins.
    So a fusion that is better on the whole still falls below somewhere, less often the longer
    the recordings (the more disagreements each holds) and the rarer its losses."""
    from scipy.stats import binom

    won, lost = sum(c.won for c in compared), sum(c.lost for c in compared)
    if not lost:
        return 0.0
    share_lost = lost / (won + lost)
    return round(
        float(sum(binom.sf((c.won + c.lost) // 2, c.won + c.lost, share_lost) for c in compared)),
        2,
    )


def channel_reader(name: str) -> Any:
    return lambda row: None if row["channels"][name] is None else row["channels"][name][0]


def fit_reliability(rows: Sequence[Mapping[str, Any]], pool: str = LOGARITHMIC) -> dict[str, float]:
    """The grid's reliabilities with the best window accuracy over the windows fused with the
    voice head on and with it off (the default deployment), so one fit serves both."""
    both = [*rows, *(without_voice_head(row) for row in rows)]
    best: tuple[float, dict[str, float]] = (-1.0, {})
    for voice, text in itertools.product(GRID["voice"], GRID["text"]):
        reliability = {"face": 1.0, "voice": voice, "text": text}
        read = functools.partial(fused_probs, reliability=reliability, pool=pool)
        accuracy = scores(both, read)["accuracy"]
        if accuracy > best[0] + 1e-9:
            best = (accuracy, reliability)
    return best[1]


def without_voice_head(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**row, "channels": {**row["channels"], "voice": None}}


def _words_whatever_their_affect(row: Mapping[str, Any]) -> dict[str, Any]:
    words = row["channels"]["text"]
    if words is None:
        return dict(row)
    return {**row, "channels": {**row["channels"], "text": (words[0], row["words_confidence"])}}


def fit_temperature(
    rows: Sequence[Mapping[str, Any]], reliability: Mapping[str, float], pool: str = LOGARITHMIC
) -> float:
    """The temperature that makes fused emotions' confidence match their accuracy (log-loss)."""
    from analysis.voice.train_speech_emotion import best_temperature

    # Over the windows as fused with the voice head on and with it off (the default), so the
    # one temperature serves both.
    both = [*rows, *(without_voice_head(row) for row in rows)]
    read = [(fused_probs(row, reliability, pool=pool), int(row["label"])) for row in both]
    read = [(p, label) for p, label in read if p is not None]
    return best_temperature(np.array([p for p, _ in read]), np.array([label for _, label in read]))


def evaluate(rows: Sequence[Mapping[str, Any]], seed: int) -> dict[str, Any]:
    names = sorted({row["recording"] for row in rows})
    names = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    folds = [set(names[i::FOLDS]) for i in range(FOLDS)]
    # what each pool, fitted without the recording, read in each window: with the voice head,
    # and without it
    learned: dict[str, dict[int, np.ndarray | None]] = {}
    fitted: dict[str, list[dict[str, float]]] = {LOGARITHMIC: [], LINEAR: []}
    as_before = [_words_whatever_their_affect(row) for row in rows]
    for pool, name, fused_rows in (
        (LOGARITHMIC, NOW, rows),
        (LINEAR, BEFORE, rows),
        (LOGARITHMIC, ALL_WORDS, as_before),
    ):
        learned[name], learned[name + QUIET] = {}, {}
        for fold in folds:
            train = [r for r in fused_rows if r["recording"] not in fold]
            reliability = fit_reliability(train, pool)
            temperature = fit_temperature(train, reliability, pool)
            if name != ALL_WORDS:
                fitted[pool].append({**reliability, "temperature": temperature})
            for i, row in enumerate(fused_rows):
                if row["recording"] in fold:
                    learned[name][i] = fused_probs(row, reliability, temperature, pool)
                    learned[name + QUIET][i] = fused_probs(
                        without_voice_head(row), reliability, temperature, pool
                    )
    index = {id(row): i for i, row in enumerate(rows)}
    readers = {name: channel_reader(name) for name in CHANNELS}
    for name, read in learned.items():
        readers[name] = lambda row, read=read: read[index[id(row)]]
    overall = {name: scores(rows, read) for name, read in readers.items()}
    by_words = {
        kind: {
            name: scores([r for r in rows if kind in r["recording"]], read)["accuracy"]
            for name, read in readers.items()
        }
        for kind in ("RAVDESS words", "GoEmotions words")
    }
    # Without the voice head there is no voice channel to be below: the best single channel
    # is the face's or the words'.
    fused_kinds: dict[str, tuple[str, ...]] = dict.fromkeys(FUSED, CHANNELS)
    fused_kinds |= {fused + QUIET: ("face", "text") for fused in FUSED}
    per_recording = []
    paired: dict[str, list[WonAndLost]] = {fused: [] for fused in fused_kinds}
    for name in names:
        mine = [r for r in rows if r["recording"] == name]
        accuracy = {key: scores(mine, read)["accuracy"] for key, read in readers.items()}
        compared = {}
        for fused, singles in fused_kinds.items():
            best_here = max(singles, key=lambda c: accuracy[c])
            pair = windows_won_and_lost(mine, readers[fused], readers[best_here])
            paired[fused].append(pair)
            compared[fused] = {
                "minus_best_single": round(accuracy[fused] - accuracy[best_here], 4),
                **asdict(pair),
            }
        per_recording.append(
            {
                "recording": name,
                **accuracy,
                **{
                    f"{fused}_{key}": value
                    for fused, comparison in compared.items()
                    for key, value in comparison.items()
                },
            }
        )
    best = {
        fused: max(singles, key=lambda c: overall[c]["accuracy"])
        for fused, singles in fused_kinds.items()
    }
    return {
        "windows": len(rows),
        "recordings": len(names),
        "overall": overall,
        "accuracy_by_words": by_words,
        "best_single_channel": best[NOW],
        **{
            f"{fused}_minus_best_single": round(
                overall[fused]["accuracy"] - overall[best[fused]]["accuracy"], 4
            )
            for fused in fused_kinds
        },
        **{
            f"recordings_where_{fused}_is_below_best_single": sum(
                r[f"{fused}_minus_best_single"] < 0 for r in per_recording
            )
            for fused in fused_kinds
        },
        **{
            f"recordings_where_{fused}_is_below_best_single_expected_by_chance": (
                expected_below_by_chance(paired[fused])
            )
            for fused in fused_kinds
        },
        # One window either way is chance: below (or above) by more than chance means the paired
        # test says so at SIGNIFICANCE.
        **{
            f"recordings_where_{fused}_is_{side}_best_single_beyond_chance": sum(
                r[f"{fused}_p"] < SIGNIFICANCE and sign * r[f"{fused}_minus_best_single"] > 0
                for r in per_recording
            )
            for fused in fused_kinds
            for side, sign in (("below", -1), ("above", 1))
        },
        "reliability_per_fold": fitted,
        "per_recording": per_recording,
    }


def run(args: argparse.Namespace) -> int:
    from analysis.face.stage import run_face_stage

    recordings = build_recordings(args.recordings, args.seed, segment_count=args.segments)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        for recording in recordings:
            video = write_video(Path(folder) / "recording.mp4", recording)
            rows += readings(channel_windows(recording, run_face_stage(video)), recording)
    result = evaluate(rows, args.seed)
    reliability = fit_reliability(rows, LOGARITHMIC)
    temperature = fit_temperature(rows, reliability, LOGARITHMIC)
    result["reliability_on_every_recording"] = reliability
    result["temperature_on_every_recording"] = temperature
    if args.write:
        from analysis.fusion import RELIABILITY_PATH

        RELIABILITY_PATH.write_text(
            json.dumps(
                {
                    "pool": LOGARITHMIC,
                    "reliability": reliability,
                    "temperature": round(temperature, 3),
                    "fitted_on": (
                        f"{len(recordings)} generated recordings of {args.segments} segments: "
                        "FER+ valid faces and RAVDESS actors 01-08 (python -m analysis evaluate "
                        "fusion)"
                    ),
                    "cross_validated": {
                        k: v
                        for k, v in result.items()
                        if k not in ("per_recording", "reliability_per_fold")
                    },
                },
                indent=1,
            )
            + "\n"
        )
        result["written"] = str(RELIABILITY_PATH)
    print(json.dumps(result, indent=1))
    return 0
