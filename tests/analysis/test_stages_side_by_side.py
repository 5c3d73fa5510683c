"""Stages that do not read each other's output run side by side when the thread budget has two
threads or more, each on its share: the same timeline as one after the other, the progress
still only moves forward, and a stop reaches every running stage."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from analysis import pipeline
from analysis.errors import Cancelled
from analysis.pipeline import MemoryStageStore, PipelineOptions, run_pipeline, stages_in_label
from analysis.stage_outputs import StageOutput
from analysis.stages import STAGES, Stage, StageContext
from analysis.threads import sharing_threads, stage_threads, thread_budget
from tests.analysis.test_pipeline import talking_clip

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return talking_clip(tmp_path_factory.mktemp("clips") / "session.mp4")


@pytest.fixture
def two_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MOODLINE_ANALYSIS_THREADS", "2")
    thread_budget.cache_clear()
    yield
    thread_budget.cache_clear()


class _Recorder:
    """A reporter that notes what it hears, from which thread, and stops once `stop` says so."""

    def __init__(self, stop: Callable[[], bool] = lambda: False) -> None:
        self.reports: list[tuple[str, float]] = []
        self.threads: set[int] = set()
        self.stop = stop

    def progress(self, stage: str, fraction: float) -> None:
        self.threads.add(threading.get_ident())
        self.reports.append((stage, fraction))

    def should_stop(self, *, at_boundary: bool = False) -> bool:
        self.threads.add(threading.get_ident())
        return self.stop()


def _without_timings(document: dict) -> dict:
    return {k: v for k, v in document.items() if k != "created_at"}


def test_side_by_side_gives_the_timeline_one_after_the_other_gives(
    clip: Path, two_threads: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch_threads = torch.get_num_threads()
    side_by_side = _Recorder()
    together = run_pipeline(
        clip, options=PipelineOptions(), store=MemoryStageStore(), reporter=side_by_side
    )
    monkeypatch.setenv("MOODLINE_STAGES_SIDE_BY_SIDE", "0")
    in_turn = run_pipeline(clip, options=PipelineOptions(), store=MemoryStageStore())

    assert _without_timings(together.document) == _without_timings(in_turn.document)
    fractions = [fraction for _, fraction in side_by_side.reports]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    labels = [label for label, _ in side_by_side.reports]
    # two ran at once (the face stage beside the ingest, then the transcript), and it was said
    assert any(len(stages_in_label(label)) == 2 for label in labels)
    assert {name for label in labels for name in stages_in_label(label)} == set(together.seconds)
    # The reporter (the worker's talks to the database) is only called from the caller's thread.
    assert side_by_side.threads == {threading.get_ident()}
    assert torch.get_num_threads() == torch_threads  # the share was handed back


def test_a_stop_while_stages_run_side_by_side_reaches_each_and_saves_nothing_after(
    clip: Path, two_threads: None
) -> None:
    store = MemoryStageStore()
    threads_before = threading.active_count()

    with pytest.raises(Cancelled):
        run_pipeline(
            clip,
            options=PipelineOptions(),
            store=store,
            reporter=_Recorder(stop=lambda: "ingest" in store.saved),
        )

    assert "ingest" in store.saved
    assert not {"voice", "transcript", "text", "fusion"} & set(store.saved)
    assert threading.active_count() == threads_before  # no stage left running
    resumed = run_pipeline(clip, options=PipelineOptions(), store=store)
    assert resumed.seconds["ingest"] == 0.0  # kept from the stopped run


def test_two_stages_side_by_side_each_get_half_of_the_threads(two_threads: None) -> None:
    torch_threads = torch.get_num_threads()
    with sharing_threads(2) as share:
        assert share.threads == stage_threads() == torch.get_num_threads() == 1
    assert stage_threads() == 2
    assert torch.get_num_threads() == torch_threads


def test_a_stage_left_running_alone_takes_the_threads_the_other_freed(
    clip: Path, two_threads: None
) -> None:
    seen: dict[str, tuple[int, int]] = {}

    def watched(stage: Stage) -> Stage:
        def run(ctx: StageContext) -> StageOutput | None:
            seen[stage.name] = (stage_threads(), torch.get_num_threads())
            return stage.run(ctx)

        return dataclasses.replace(stage, run=run)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "STAGES", tuple(watched(stage) for stage in STAGES))
        run_pipeline(clip, options=PipelineOptions(), store=MemoryStageStore())

    # The face stage starts beside the ingest on one thread of two; the text stage, which
    # waits for every stage but fusion, runs alone on both, in torch too.
    assert seen["face"] == (1, 1)
    assert seen["text"] == (2, 2)
    assert seen["fusion"] == (2, 2)


def test_a_stage_whose_models_still_load_when_it_starts_alone_takes_both_threads(
    clip: Path, two_threads: None
) -> None:
    # The text stage's head start (loading its models) outlasts the transcript it waits for:
    # it starts while its own preparation still runs, and that is not a stage beside it.
    seen: dict[str, tuple[int, int]] = {}
    by_name = {stage.name: stage for stage in STAGES}
    text = by_name["text"]

    def slow_prepare(options: PipelineOptions) -> None:
        time.sleep(3.0)
        assert text.prepare is not None
        text.prepare(options)

    def run_text(ctx: StageContext) -> StageOutput | None:
        seen["text"] = (stage_threads(), torch.get_num_threads())
        return text.run(ctx)

    stages = tuple(
        dataclasses.replace(stage, prepare=slow_prepare, run=run_text) if stage is text else stage
        for stage in STAGES
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "STAGES", stages)
        run_pipeline(clip, options=PipelineOptions(), store=MemoryStageStore())

    assert seen["text"] == (2, 2)


def _watched_stages(events: list[str], prepare_fails: bool) -> tuple[Stage, ...]:
    """The pipeline's stages, noting when the voice stage starts and when the text stage is
    prepared and when it runs."""

    def prepare(options: PipelineOptions) -> None:
        events.append("text prepared")
        if prepare_fails:
            raise OSError("the model's folder is unreadable")
        assert text.prepare is not None
        text.prepare(options)

    def run_text(ctx: StageContext) -> StageOutput | None:
        events.append("text ran")
        return text.run(ctx)

    def run_voice(ctx: StageContext) -> StageOutput | None:
        events.append("voice started")
        return voice.run(ctx)

    transcribed = threading.Event()

    def run_transcript(ctx: StageContext) -> StageOutput | None:
        output = transcript.run(ctx)
        transcribed.set()
        return output

    def run_face(ctx: StageContext) -> StageOutput | None:
        # As on a long video: the face stage still runs once the transcript is done, leaving
        # a thread idle for long enough to prepare any stage it would.
        output = face.run(ctx)
        transcribed.wait(timeout=120)
        time.sleep(1.0)
        return output

    by_name = {stage.name: stage for stage in STAGES}
    text, voice, transcript, face = (by_name[n] for n in ("text", "voice", "transcript", "face"))
    watched = {
        text: dataclasses.replace(text, prepare=prepare, run=run_text),
        voice: dataclasses.replace(voice, run=run_voice),
        transcript: dataclasses.replace(transcript, run=run_transcript),
        face: dataclasses.replace(face, run=run_face),
    }
    return tuple(watched.get(stage, stage) for stage in STAGES)


@pytest.mark.parametrize("prepare_fails", [False, True], ids=["prepared", "preparing-fails"])
def test_a_waiting_stage_loads_its_models_in_an_idle_thread_before_its_inputs_are_ready(
    clip: Path, two_threads: None, monkeypatch: pytest.MonkeyPatch, prepare_fails: bool
) -> None:
    reference = run_pipeline(clip, options=PipelineOptions(), store=MemoryStageStore())
    events: list[str] = []
    monkeypatch.setattr(pipeline, "STAGES", _watched_stages(events, prepare_fails))

    result = run_pipeline(clip, options=PipelineOptions(), store=MemoryStageStore())

    # Once, ahead of the stage, and only one step ahead: not while the voice stage it reads
    # still waits for the face stage, whose memory its model would otherwise be held beside.
    # A failed head start changes nothing the stage gives.
    assert events == ["voice started", "text prepared", "text ran"]
    assert _without_timings(result.document) == _without_timings(reference.document)
