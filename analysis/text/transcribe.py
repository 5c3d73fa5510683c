"""Speech to text with word timestamps, behind one engine interface.

Engines (chosen by name; `MOODLINE_TRANSCRIPT_ENGINE` sets the default):
- `openai-whisper`: the reference. Whisper converted from the shipped CTranslate2 files into an
  openai-whisper checkpoint (analysis/weights/speech.py); greedy decoding with
  openai-whisper's temperature fallback; word timestamps from its alignment heads.
- `faster-whisper`: the same weights read by CTranslate2 as they ship, int8 on CPU, greedy
  (beam 1). Measured faster at no worse WER (docs/analysis.md), hence the default.

Models (`MOODLINE_TRANSCRIPT_MODEL` sets the default; both engines run either):
- `tiny.en`: Whisper tiny.en, English only, the smallest and fastest;
- `base`: Whisper base, multilingual, 73 M weights to tiny.en's 38 M; about twice the time.
The product is English only for now, so every model decodes with the language fixed to
English and the task fixed to transcription: base never guesses a language or translates.

Audio is never a file path (openai-whisper would shell out to ffmpeg): the caller streams
16 kHz mono float32 chunks, only speech regions found by the VAD are decoded, in bounded
regions, so silence costs nothing and a long recording never sits whole in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any, Protocol

import numpy as np

from analysis.device import torch_device
from analysis.errors import ErrorCode, ModelError
from analysis.text.decode_checks import doubtful, without_unheard
from analysis.text.decoding_regions import (
    DecodingRegion,
    decoding_regions,
    in_real_time,
    parts,
    shorten_pauses,
)
from analysis.threads import stage_threads
from analysis.voice.regions import iter_region_audio
from analysis.voice.vad import SpeechSegment
from analysis.weights.registry import ModelSpec, get_spec
from analysis.weights.speech import (
    WHISPER_BASE,
    WHISPER_BASE_CT2,
    WHISPER_TINY_EN,
    WHISPER_TINY_EN_CT2,
    load_whisper,
    prepare_ct2_model,
)

SAMPLE_RATE_HZ = 16000
ENGINE_ENV = "MOODLINE_TRANSCRIPT_ENGINE"
REFERENCE_ENGINE = "openai-whisper"
DEFAULT_ENGINE = "faster-whisper"
MODEL_ENV = "MOODLINE_TRANSCRIPT_MODEL"
DEFAULT_MODEL = "tiny.en"
LANGUAGE = "en"  # the product is English only; fixed even for a multilingual model
TASK = "transcribe"  # a multilingual model could otherwise be asked to translate
PROMPT_CHARS = 400  # previous transcript passed on as the next region's prompt
UTTERANCE_PAUSE_S = 1.0  # a silence this long between two words ends an utterance
ROUND_DIGITS = 3


@dataclass(frozen=True)
class Word:
    start_s: float
    end_s: float
    text: str
    probability: float


@dataclass(frozen=True)
class Utterance:
    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...] = ()
    avg_logprob: float | None = None  # the decoder's mean token log-probability
    no_speech_prob: float | None = None
    # above 0: Whisper rejected its greedy decode (a loop, or too unsure) and sampled this one
    temperature: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["words"] = [
            {k: (round(v, ROUND_DIGITS) if isinstance(v, float) else v) for k, v in w.items()}
            for w in data["words"]
        ]
        for key in ("start_s", "end_s", "avg_logprob", "no_speech_prob", "temperature"):
            if data[key] is not None:
                data[key] = round(data[key], ROUND_DIGITS)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Utterance:
        return cls(
            start_s=data["start_s"],
            end_s=data["end_s"],
            text=data["text"],
            words=tuple(Word(**w) for w in data.get("words", [])),
            avg_logprob=data.get("avg_logprob"),
            no_speech_prob=data.get("no_speech_prob"),
            temperature=data.get("temperature"),
        )


def split_words(utterance: Utterance, groups: Sequence[Sequence[Word]]) -> list[Utterance]:
    """`utterance` as one utterance per group of its words (in order), each timed and worded by
    its own words; the decoder's scores carry over to every part."""
    if len(groups) <= 1:
        return [utterance]
    return [
        Utterance(
            start_s=words[0].start_s,
            end_s=words[-1].end_s,
            text=" ".join(w.text for w in words),
            words=tuple(words),
            avg_logprob=utterance.avg_logprob,
            no_speech_prob=utterance.no_speech_prob,
            temperature=utterance.temperature,
        )
        for words in groups
        if words
    ]


def split_at_pauses(
    utterances: Iterable[Utterance], pause_s: float = UTTERANCE_PAUSE_S
) -> list[Utterance]:
    """Whisper's segments can run across long pauses (and so across turns): split each where
    its words are `pause_s` or more apart."""
    result: list[Utterance] = []
    for utterance in utterances:
        groups: list[list[Word]] = []
        for word in utterance.words:
            if not groups or word.start_s - groups[-1][-1].end_s >= pause_s:
                groups.append([])
            groups[-1].append(word)
        result.extend(split_words(utterance, groups))
    return result


@dataclass(frozen=True)
class TranscriptModel:
    """One Whisper model in the two forms the engines read."""

    name: str  # the value of MOODLINE_TRANSCRIPT_MODEL
    ct2: ModelSpec  # CTranslate2 files, read by faster-whisper
    checkpoint: ModelSpec  # converted for openai-whisper

    def specs(self) -> tuple[ModelSpec, ...]:
        return (self.ct2, self.checkpoint)


TRANSCRIPT_MODELS: dict[str, TranscriptModel] = {
    "tiny.en": TranscriptModel("tiny.en", WHISPER_TINY_EN_CT2, WHISPER_TINY_EN),
    "base": TranscriptModel("base", WHISPER_BASE_CT2, WHISPER_BASE),
}


def default_model_name() -> str:
    return os.environ.get(MODEL_ENV, "").strip() or DEFAULT_MODEL


def get_transcript_model(name: str | None = None) -> TranscriptModel:
    """The model called `name` (default: MOODLINE_TRANSCRIPT_MODEL, else tiny.en)."""
    chosen = name or default_model_name()
    if chosen not in TRANSCRIPT_MODELS:
        raise ModelError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"unknown transcript model {chosen!r} (set by {MODEL_ENV} or --model); "
            f"choose one of {', '.join(TRANSCRIPT_MODELS)}",
        )
    return TRANSCRIPT_MODELS[chosen]


class TranscriptEngine(Protocol):
    name: str
    model: TranscriptModel

    @property
    def models(self) -> tuple[ModelSpec, ...]:
        """The weights this engine runs, recorded in the timeline's provenance."""
        ...

    def transcribe(
        self, audio: np.ndarray, offset_s: float, prompt: str | None = None
    ) -> list[Utterance]:
        """Utterances of mono 16 kHz `audio`, times shifted by `offset_s`; `prompt`: what was
        said just before, given to the decoder as context."""
        ...


@dataclass
class OpenAIWhisperEngine:
    model: TranscriptModel = field(default_factory=get_transcript_model)
    name: str = REFERENCE_ENGINE
    options: dict[str, Any] = field(
        default_factory=lambda: {
            "language": LANGUAGE,
            "task": TASK,
            "word_timestamps": True,
            "fp16": False,
            "condition_on_previous_text": False,
            "verbose": None,
        }
    )

    @property
    def models(self) -> tuple[ModelSpec, ...]:
        return (self.model.checkpoint,)

    def transcribe(
        self, audio: np.ndarray, offset_s: float, prompt: str | None = None
    ) -> list[Utterance]:
        result = load_whisper(self.model.checkpoint.name).transcribe(
            audio.astype(np.float32, copy=False), initial_prompt=prompt, **self.options
        )
        return [
            Utterance(
                start_s=float(offset_s + seg["start"]),
                end_s=float(offset_s + seg["end"]),
                text=seg["text"].strip(),
                words=tuple(
                    Word(
                        float(offset_s + w["start"]),
                        float(offset_s + w["end"]),
                        w["word"].strip(),
                        float(w["probability"]),
                    )
                    for w in seg.get("words", [])
                ),
                avg_logprob=seg.get("avg_logprob"),
                no_speech_prob=seg.get("no_speech_prob"),
                temperature=seg.get("temperature"),
            )
            for seg in result["segments"]
            if seg["text"].strip()
        ]


@cache
def _faster_whisper_model(spec_name: str, cpu_threads: int) -> Any:
    from faster_whisper import WhisperModel

    model_dir = prepare_ct2_model(get_spec(spec_name)).path.parent
    device = torch_device()
    if device.type == "cuda":  # CTranslate2 on the GPU: fp16 there, int8 on the CPU
        return WhisperModel(
            str(model_dir), device="cuda", device_index=device.index or 0, compute_type="float16"
        )
    return WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=cpu_threads)


@dataclass
class FasterWhisperEngine:
    model: TranscriptModel = field(default_factory=get_transcript_model)
    name: str = "faster-whisper"
    # 0 lets CTranslate2 decide (every core); the budget is this analysis's share.
    cpu_threads: int = field(default_factory=stage_threads)

    @property
    def models(self) -> tuple[ModelSpec, ...]:
        return (self.model.ct2,)

    def transcribe(
        self, audio: np.ndarray, offset_s: float, prompt: str | None = None
    ) -> list[Utterance]:
        segments, _info = _faster_whisper_model(self.model.ct2.name, self.cpu_threads).transcribe(
            audio.astype(np.float32, copy=False),
            language=LANGUAGE,
            task=TASK,
            beam_size=1,
            word_timestamps=True,
            initial_prompt=prompt,
            condition_on_previous_text=False,
            vad_filter=False,  # regions already come from Silero VAD
        )
        return [
            Utterance(
                start_s=offset_s + seg.start,
                end_s=offset_s + seg.end,
                text=seg.text.strip(),
                words=tuple(
                    Word(offset_s + w.start, offset_s + w.end, w.word.strip(), w.probability)
                    for w in seg.words or []
                ),
                avg_logprob=seg.avg_logprob,
                no_speech_prob=seg.no_speech_prob,
                temperature=seg.temperature,
            )
            for seg in segments
            if seg.text.strip()
        ]


ENGINES: dict[str, type[OpenAIWhisperEngine] | type[FasterWhisperEngine]] = {
    REFERENCE_ENGINE: OpenAIWhisperEngine,
    "faster-whisper": FasterWhisperEngine,
}


def default_engine_name() -> str:
    return os.environ.get(ENGINE_ENV, "").strip() or DEFAULT_ENGINE


def get_engine(name: str | None = None, model: str | None = None) -> TranscriptEngine:
    """The engine called `name` running the model called `model` (defaults: the settings)."""
    chosen = name or default_engine_name()
    if chosen not in ENGINES:
        raise ValueError(f"unknown transcript engine {chosen!r}; choose one of {sorted(ENGINES)}")
    engine: TranscriptEngine = ENGINES[chosen](model=get_transcript_model(model))
    return engine


def transcribe_speech(
    chunks: Iterable[tuple[float, np.ndarray]],
    segments: Sequence[SpeechSegment],
    engine: TranscriptEngine,
    *,
    duration_s: float | None = None,
    keep_pauses: bool = False,
    place_words: bool = True,
    check_decodes: bool = True,
) -> Iterator[tuple[float, list[Utterance]]]:
    """Transcribe the speech regions of a chunk stream; yields (region end_s, utterances).

    Long silences inside a region are shortened before decoding and real times restored
    after, and words the decoder timed badly placed (`decoding_regions.in_real_time`). Text
    heard nowhere is dropped, and a region whose decode is doubtful is decoded again in its
    parts (`decode_checks`). For the timing benchmark's baselines,
    how it was done before: `keep_pauses` decodes the region as recorded; `place_words=False`
    leaves every word where the decoder's times put it; `check_decodes=False` trusts every
    region's decode whole."""
    regions = decoding_regions(segments, duration_s)
    bounds = [r.bounds for r in regions]
    context = ""
    for region, audio in iter_region_audio(chunks, regions, bounds):
        if keep_pauses:
            heard = engine.transcribe(audio, region.start_s, context or None)
        else:
            heard = _heard(
                engine, audio, region, context, place_words=place_words, check=check_decodes
            )
        utterances = split_at_pauses(heard)
        context = _followed_by(context, utterances)
        yield region.end_s, utterances


def _heard(
    engine: TranscriptEngine,
    audio: np.ndarray,
    region: DecodingRegion,
    context: str,
    *,
    place_words: bool,
    check: bool,
) -> list[Utterance]:
    """The region's utterances in the recording's time, decoded with its long silences
    shortened. Checked: text heard nowhere dropped, and a doubtful decode replaced by those of
    its parts (`decoding_regions.parts`: its stretches of speech, else its VAD segments; so
    at most twice), each checked in turn (`decode_checks`) and decoded with no prompt: a
    prompt of sentences said over and over primed the decoder to say them again, or to leave
    one out (measured; openai-whisper likewise drops its prompt once it falls back to a high
    temperature)."""
    shortened = shorten_pauses(audio, region)
    decoded = engine.transcribe(shortened.audio, 0.0, context or None)
    if not check:
        return in_real_time(decoded, shortened, region, place_words=place_words)
    kept, dropped = without_unheard(decoded)
    pieces = parts(region)
    if not pieces or not doubtful(decoded, dropped):
        return in_real_time(kept, shortened, region, place_words=place_words)
    heard: list[Utterance] = []
    for piece in pieces:
        begin, end = (round((t - region.start_s) * SAMPLE_RATE_HZ) for t in piece.bounds)
        heard += _heard(engine, audio[begin:end], piece, "", place_words=place_words, check=True)
    return heard


def _followed_by(context: str, utterances: Sequence[Utterance]) -> str:
    """The decoder's prompt once `utterances` were heard: what was just said helps it with
    what comes next, as in one long decode."""
    return " ".join([context, *(u.text for u in utterances)]).strip()[-PROMPT_CHARS:]


def transcribe_array(
    audio: np.ndarray, engine: TranscriptEngine, segments: Sequence[SpeechSegment] | None = None
) -> list[Utterance]:
    """Transcribe an in-memory mono 16 kHz array (tests, evaluation of short files)."""
    if segments is None:
        from analysis.voice.vad import detect_speech

        segments = detect_speech([(0.0, audio)])
    utterances: list[Utterance] = []
    for _end, found in transcribe_speech([(0.0, audio)], segments, engine):
        utterances.extend(found)
    return utterances
