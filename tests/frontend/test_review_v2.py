"""A clinician new to Moodline finds the moment a session turned, sees which channels said so
and on what evidence, compares it with the patient's earlier session, takes the summary out,
sets who is who, and opens and uploads a session of her own — in Debian's Chromium, with an
automated accessibility check on each page."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import axe_playwright_python
import pytest
from django.utils import timezone

from analysis.timeline import SCHEMA_ID
from clinic.models import AnalysisJob, AuditEvent, Consent, Patient, Recording, TherapySession, User
from clinic.services import job_claim, job_progress
from clinic.services.jobs import TimelineInput, job_succeed
from tests.clinic.timeline_factory import (
    DURATION_S,
    EMOTIONS,
    WINDOW_S,
    analysed,
    timeline_document,
)
from tests.factories import RecordingFactory, TherapySessionFactory
from tests.frontend.browser_steps import as_a_worker, screenshot, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

AXE_SCRIPT = Path(axe_playwright_python.__file__).with_name("axe.min.js")
SERIOUS = {"serious", "critical"}


@pytest.fixture
def two_sessions(
    dr_rivera: User, therapy_session: TherapySession, long_clip: Path, consents: dict[str, Consent]
) -> Recording:
    """Yesterday's analysed session, and one two weeks before it that went worse."""
    recording = RecordingFactory.create(
        session=therapy_session, clip=long_clip, uploaded_by=dr_rivera
    )
    analysed(recording)
    earlier = TherapySessionFactory.create(
        patient=therapy_session.patient,
        clinician=dr_rivera,
        date=timezone.localdate() - dt.timedelta(days=15),
    )
    darker = timeline_document()
    for window in darker["windows"]:
        if window["valence"] is not None:
            window["valence"] = round(window["valence"] - 0.3, 3)
    analysed(
        RecordingFactory.create(session=earlier, clip=long_clip, uploaded_by=dr_rivera), darker
    )
    return recording


def _accessibility_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    page.evaluate(AXE_SCRIPT.read_text())
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']}: {v['help']}: {[node['target'] for node in v['nodes']]}"
        for v in results["violations"]
        if v["impact"] in SERIOUS
    ]


def _download(page: Any, link: str) -> bytes:
    with page.expect_download() as info:
        page.click(link)
    path = info.value.path()
    return Path(path).read_bytes()


def test_the_moment_the_session_turned_its_evidence_the_course_and_the_summary(
    two_sessions: Recording, server_url: str, browser_page: Any
) -> None:
    page = browser_page
    recording = two_sessions
    sign_in(page, server_url, "dr_rivera")
    page.goto(f"{server_url}/sessions/{recording.session_id}/")
    page.wait_for_selector("#chart path.moment")

    # Every lane is drawn: the fused curves with their bands, the emotions, each channel.
    assert page.locator("#chart polygon[data-band=valence]").count() >= 1
    # the seven emotions stacked, either side of the stretch with no face in view
    assert page.locator("#chart polygon.emotion").count() == 2 * 7
    assert page.locator("#chart path[data-series=face-valence]").count() == 2
    assert page.locator("#chart path[data-series=voice-arousal]").count() == 1
    # Gaps are drawn as gaps, with their reason.
    assert page.locator("#chart rect.gap[data-lane=face][data-reason='no face in view']").count()
    assert page.locator("#chart rect.gap[data-lane=text]").count() == 1
    # A lane can be hidden, and comes back.
    page.uncheck("input[data-lane=voice]")
    assert page.locator("#chart path[data-series=voice-arousal]").count() == 0
    page.check("input[data-lane=voice]")
    assert page.locator("#chart path[data-series=voice-arousal]").count() == 1
    # Time labels never repeat.
    ticks = page.locator("#chart text.tick").all_text_contents()
    times = [t for t in ticks if ":" in t]
    assert len(times) == len(set(times)) >= 4

    # The session map's shift opens its evidence: who said so, the words, the face frames.
    page.click("#moments li:has-text('Shift in valence')")
    evidence = page.locator("[data-testid=evidence]")
    evidence.wait_for()
    assert "Shift in valence" in evidence.locator("h3").inner_text()
    channels = evidence.locator("[data-testid=evidence-channels]").inner_text().lower()
    assert "face" in channels
    assert "70%" in channels
    assert "30%" in channels
    assert "text" in channels
    assert "no reading" in channels
    assert evidence.locator("[data-testid=evidence-words]").inner_text().strip()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.evidence-frames img')]"
        ".some((img) => img.complete && img.naturalWidth > 0)"
    )
    assert AuditEvent.objects.filter(action="recording.view_frame").exists()

    # A point in time opens that window's evidence, with the words said then.
    page.locator("#chart").scroll_into_view_if_needed()
    box = page.locator("#chart").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + 60)
    page.wait_for_selector("#evidence h3:has-text('Window')")
    # ... and the client's face in the frames the face model attended to there, cut to its box
    page.wait_for_function(
        "() => [...document.querySelectorAll('.evidence-frames img')]"
        ".some((img) => img.complete && img.naturalWidth > 0 && img.src.includes('box='))"
    )
    assert "attention 42%" in evidence.locator("[data-testid=evidence-frames]").inner_text()
    assert AuditEvent.objects.filter(
        action="recording.view_frame", details__face_only=True
    ).exists()

    # The transcript is searchable and follows playback.
    page.fill("#transcript-search", "thursday")
    assert page.locator("#transcript li[data-start]:visible").count() == 1
    assert "1 turn" in page.inner_text("#transcript-status")
    page.fill("#transcript-search", "")
    page.click("#transcript li:has-text('I went for a walk')")
    page.wait_for_selector("#transcript li.current:has-text('I went for a walk')")

    assert _accessibility_violations(page) == []
    screenshot(page, "review-v2.png", full_page=True)

    # Exports: the CSV parses to one row per window; the summary is a PDF; both audited.
    rows = list(csv.DictReader(io.StringIO(_download(page, "text=Timeline CSV").decode())))
    assert len(rows) == int(DURATION_S / WINDOW_S)
    assert json.loads(_download(page, "text=Timeline JSON"))["schema"] == "moodline.timeline/1"
    assert _download(page, "text=Transcript WebVTT").startswith(b"WEBVTT")
    assert _download(page, "text=Printable summary (PDF)").startswith(b"%PDF-")
    formats = set(
        AuditEvent.objects.filter(action="session.export").values_list("details__format", flat=True)
    )
    assert formats == {"timeline.csv", "timeline.json", "transcript.vtt", "summary.pdf"}

    # The patient's course: both sessions, the earlier one lower, each a link into it.
    page.click("[data-testid=patient-link]")
    page.wait_for_selector("#trend circle.point")
    assert page.locator("#trend circle[data-series=valence]").count() == 2
    heights = page.eval_on_selector_all(
        "#trend circle[data-series=valence]", "(cs) => cs.map((c) => Number(c.getAttribute('cy')))"
    )
    assert heights[0] > heights[1]  # lower on the page: lower valence, two weeks before
    assert page.locator("#emotion-share rect.share").count() >= 2
    assert page.locator("[data-testid=course-table] tbody tr").count() == 2
    assert _accessibility_violations(page) == []
    screenshot(page, "patient.png", full_page=True)
    page.click("[data-testid=course-table] tbody tr:first-child a.button")
    page.wait_for_selector("#chart path.moment")


def test_setting_who_is_who_fuses_again_with_live_progress(
    two_sessions: Recording, server_url: str, browser_page: Any
) -> None:
    page = browser_page
    sign_in(page, server_url, "dr_rivera")
    page.goto(f"{server_url}/sessions/{two_sessions.session_id}/")
    page.wait_for_selector("#roles-rows tr[data-kind=speakers]")

    page.select_option("tr[data-kind=speakers][data-id=S0] select", "client")
    page.select_option("tr[data-kind=speakers][data-id=S1] select", "clinician")
    page.click("#roles-form button[type=submit]")
    page.wait_for_selector("#progress:has-text('Analysis queued')")

    job = AnalysisJob.objects.filter(recording=two_sessions, status="queued").get()
    assert job.options["role_overrides"] == [["speaker:S0", "client"], ["speaker:S1", "clinician"]]
    as_a_worker(lambda: job_claim(job_id=job.id, worker="worker-1"))
    as_a_worker(lambda: job_progress(job_id=job.id, progress=96, stage="fusion"))
    page.wait_for_selector("#progress-percent:text-is('96%')", timeout=10_000)
    assert "fusion" in page.inner_text("#progress")

    # Fusion finishes with the roles as set: the page says so at 100% and redraws with them.
    reassigned = timeline_document()
    for speaker in reassigned["speakers"]:
        speaker["role"] = "client" if speaker["id"] == "S0" else "clinician"
        speaker["role_source"] = "clinician"
    as_a_worker(lambda: _succeed(job, reassigned))
    page.wait_for_selector("#progress-percent:text-is('100%')", timeout=10_000)
    assert "Analysis finished" in page.inner_text("#progress")
    page.wait_for_selector("#roles-rows tr[data-id=S0]:has-text('set by a clinician')")
    assert page.input_value("tr[data-kind=speakers][data-id=S0] select") == "client"


def _succeed(job: AnalysisJob, document: dict[str, Any]) -> None:
    timeline = TimelineInput(
        schema_version=SCHEMA_ID, document=document, models_provenance=document["models"]
    )
    assert job_succeed(job_id=job.id, timeline=timeline)


def test_a_clinician_opens_a_session_and_uploads_its_recording_with_progress(
    patient: Patient,
    consents: dict[str, Consent],
    dr_okafor: User,
    session_clip: Path,
    server_url: str,
    browser_page: Any,
) -> None:
    page = browser_page
    sign_in(page, server_url, "dr_rivera")
    page.click("text=New session")
    page.select_option("#id_patient", value=str(patient.id))
    page.click("button:has-text('Open session')")
    page.wait_for_selector("[data-testid=consents]")
    session = TherapySession.objects.get()
    assert page.url.endswith(f"/sessions/{session.id}/")
    given = page.locator("[data-testid=consents] li.given").all_inner_texts()
    assert any("facial expression" in text for text in given)

    page.set_input_files("#upload-file", str(session_clip))
    page.wait_for_selector("#upload-message:has-text('Uploaded.')", timeout=60_000)
    assert page.get_attribute("#upload-progress", "aria-valuenow") == "100"
    page.wait_for_selector("#progress:has-text('Analysis queued')")
    recording = Recording.objects.get(session=session)
    assert recording.size_bytes == session_clip.stat().st_size
    assert recording.jobs.get().status == "queued"
    assert _accessibility_violations(page) == []

    # A patient's page and sessions are their care team's alone.
    page.context.clear_cookies()
    sign_in(page, server_url, "dr_okafor")
    assert page.goto(f"{server_url}/patients/{patient.id}/").status == 404
    assert page.goto(f"{server_url}/sessions/{session.id}/").status == 404


def test_the_evidence_says_when_words_with_no_feeling_in_them_did_not_weigh_on_the_emotions(
    dr_rivera: User,
    therapy_session: TherapySession,
    long_clip: Path,
    consents: dict[str, Consent],
    server_url: str,
    browser_page: Any,
) -> None:
    document = timeline_document()
    for window in document["windows"]:
        window["modalities"]["text"] = {
            "valence": 0.0,
            "arousal": None,
            "emotions": {label: (0.4 if label == "happy" else 0.1) for label in EMOTIONS},
            "confidence": 0.5,
            "weight": 0.2,
            "emotions_confidence": 0.0,  # "We moved the appointment to Thursday."
            "source": "transcript",
        }
    recording = RecordingFactory.create(
        session=therapy_session, clip=long_clip, uploaded_by=dr_rivera
    )
    analysed(recording, document)
    page = browser_page
    sign_in(page, server_url, "dr_rivera")
    page.goto(f"{server_url}/sessions/{recording.session_id}/")
    page.wait_for_selector("#chart path.moment")

    box = page.locator("#chart").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + 60)
    page.wait_for_selector("#evidence h3:has-text('Window')")

    words = page.locator("[data-testid=evidence-channels] tr[data-channel=text]").inner_text()
    face = page.locator("[data-testid=evidence-channels] tr[data-channel=face]").inner_text()
    assert "50%" in words
    assert "emotions 0% (no feeling words)" in words
    assert "emotions" not in face  # the face's emotions weigh as its confidence says
