"""An integrator signed in to the practice reads the API documentation, served from this host."""

from __future__ import annotations

from typing import Any

import pytest

from clinic.models import User
from tests.factories import TEST_PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_the_swagger_page_renders_the_schema_without_any_cdn(
    dr_rivera: User, server_url: str, browser_page: Any
) -> None:
    page = browser_page
    outside_requests: list[str] = []
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith(server_url) else outside_requests.append(request.url)
        ),
    )
    page.goto(f"{server_url}/login/?next=/api/docs/")
    page.fill("#id_username", "dr_rivera")
    page.fill("#id_password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Moodline API")
    page.wait_for_selector('[data-path="/api/v1/sessions/{session_id}/fhir"]')
    assert outside_requests == []
