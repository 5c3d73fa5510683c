"""Dr Rivera reviews a session in a real browser: she signs in, opens the session, jumps the
video from the transcript and the session map, zooms into the tense stretch, and pins a note.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clinic.models import Annotation, Consent, Patient, Recording, TherapySession, User
from clinic.services import job_claim, job_progress
from tests.clinic.timeline_factory import analysed
from tests.factories import RecordingFactory
from tests.frontend.browser_steps import as_a_worker, screenshot, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SEEK_TOLERANCE_S = 0.6


def _video_time(page: Any) -> float:
    return float(page.evaluate("document.getElementById('player').currentTime"))


def _wait_for_seek(page: Any, target_s: float) -> None:
    page.wait_for_function(
        "([t, tol]) => Math.abs(document.getElementById('player').currentTime - t) < tol",
        arg=[target_s, SEEK_TOLERANCE_S],
    )


@pytest.fixture
def analysed_session(
    dr_rivera: User, therapy_session: TherapySession, long_clip: Path
) -> Recording:
    recording = RecordingFactory.create(
        session=therapy_session, clip=long_clip, uploaded_by=dr_rivera
    )
    analysed(recording)
    return recording


def test_dr_rivera_reviews_an_analysed_session(
    analysed_session: Recording, dr_rivera: User, server_url: str, browser_page: Any
) -> None:
    page = browser_page

    sign_in(page, server_url, "dr_rivera")
    assert "not a diagnosis" in page.inner_text("[data-testid=observation-banner]")
    screenshot(page, "sessions.png")
    page.click("text=Review")
    page.wait_for_selector("#transcript li[data-start]")

    # The chart draws both dimensions; the summary says who talked.
    assert page.locator("#chart line.valence").count() > 20
    assert page.locator("#chart line.arousal").count() > 20
    assert page.locator("#chart path.moment").count() == 3
    assert "77%" in page.inner_text("[data-testid=summary]")
    assert page.locator("#transcript li").count() == 10  # turns: a speaker's lines run on
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")

    # Clicking a transcript line plays from there.
    page.click("#transcript li:has-text('I went for a walk')")
    _wait_for_seek(page, 80.0)
    assert "I went for a walk on Thursday" in page.locator("#transcript li.current").inner_text()

    # The session map jumps to the start of the moment, from the keyboard too.
    page.click("#moments li:has-text('Peak of valence')")
    _wait_for_seek(page, 34.0)
    page.focus("#moments li:has-text('Shift in valence')")
    page.keyboard.press("Enter")
    _wait_for_seek(page, 58.0)
    page.click("#moments li:has-text('Peak of valence')")
    _wait_for_seek(page, 34.0)

    # Dragging across the first third of the chart zooms in to full detail.
    overview_segments = page.locator("#chart line.valence").count()
    page.locator("#chart").scroll_into_view_if_needed()
    box = page.locator("#chart").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.40, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    page.wait_for_selector("#zoom-reset:not(.hidden)")
    assert "in full detail" in page.inner_text("#chart-status")
    assert page.locator("#chart line.valence").count() < overview_segments

    # A note is pinned at the video's current time and shows beside the timeline.
    page.fill("#note-text", "Hopelessness about work; revisit next week.")
    page.click("#note-form button[type=submit]")
    page.wait_for_selector("#notes li[data-id]")
    assert "Hopelessness about work" in page.inner_text("#notes")
    note = Annotation.objects.get()
    assert note.author == dr_rivera
    assert abs(note.t_s - _video_time(page)) < SEEK_TOLERANCE_S

    page.click("#zoom-reset")
    page.wait_for_selector("#zoom-reset.hidden", state="attached")
    assert page.locator("#chart line.note-mark").count() == 1
    page.set_viewport_size({"width": 1360, "height": 1480})
    screenshot(page, "review.png")


def test_an_upload_that_is_not_media_is_refused_and_a_real_one_starts_analysis(
    server_url: str,
    browser_page: Any,
    tmp_path: Path,
    therapy_session: TherapySession,
    patient: Patient,
    consents: dict[str, Consent],
    session_clip: Path,
) -> None:
    page = browser_page
    sign_in(page, server_url, "dr_rivera")
    page.goto(f"{server_url}/sessions/{therapy_session.id}/")
    assert "No recording yet" in page.inner_text(".player")

    letter = tmp_path / "referral.pdf.txt"
    letter.write_text("Dear colleague, please see Sam.")
    page.set_input_files("#upload-file", str(letter))
    page.wait_for_selector("#upload-message.error")
    assert "not an audio or video recording" in page.inner_text("#upload-message")
    assert not Recording.objects.exists()

    page.set_input_files("#upload-file", str(session_clip))
    page.wait_for_selector("#progress:not(.hidden)")
    assert "Analysis queued" in page.inner_text("#progress")
    job = Recording.objects.get().jobs.get()
    assert job.status == "queued"
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")

    # A worker picks the job up; its progress reaches the page over the WebSocket.
    as_a_worker(lambda: job_claim(job_id=job.id, worker="worker-1"))
    as_a_worker(lambda: job_progress(job_id=job.id, progress=40, stage="face"))
    page.wait_for_selector("#progress-percent:text-is('40%')", timeout=10_000)
    assert "Analysing · face" in page.inner_text("#progress")
    assert page.get_attribute("#progress", "data-channel") == "websocket"

    # The clinician changes her mind and cancels it from the page.
    page.click("#progress-cancel")
    page.wait_for_selector("#progress:has-text('Analysis cancelled')")
    job.refresh_from_db()
    assert job.status == "cancelled"

    # ...and asks for it again.
    page.click("#reanalyse")
    page.wait_for_selector("#progress:has-text('Analysis queued')")
    assert Recording.objects.get().jobs.filter(status="queued").count() == 1


def test_a_colleague_off_the_care_team_cannot_open_the_review_page(
    server_url: str, browser_page: Any, dr_okafor: User, therapy_session: TherapySession
) -> None:
    page = browser_page
    sign_in(page, server_url, "dr_okafor")
    assert "No sessions to show" in page.inner_text("[data-testid=session-table]")
    response = page.goto(f"{server_url}/sessions/{therapy_session.id}/")
    assert response.status == 404
