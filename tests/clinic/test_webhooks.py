"""Webhooks: Northside's EHR is told when an analysis ends, consent is revoked or data is
purged, at an endpoint it registered: a real HTTP server on 127.0.0.1 that these tests start.
Each delivery is signed, retried with growing delays until accepted, and logged."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from django.test import Client

from clinic.models import (
    Consent,
    Integration,
    Organisation,
    Patient,
    Recording,
    User,
    WebhookDelivery,
)
from clinic.scopes import Scope, WebhookEvent
from clinic.services import job_claim, job_create, job_fail
from clinic.services.consent import consent_revoke
from clinic.services.integrations import integration_create
from clinic.services.jobs import job_succeed
from clinic.services.retention import patient_purge
from clinic.services.webhooks import (
    retry_delay_s,
    webhook_delivery_attempt,
    webhook_endpoint_register,
)
from clinic.webhook_signature import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_is_valid,
)
from tests.clinic.integration_support import KeyClient
from tests.factories import OrganisationFactory, PatientFactory
from tests.webhook_receiver import webhook_receiver

pytestmark = pytest.mark.django_db
Status = WebhookDelivery.Status


@pytest.fixture(autouse=True)
def quick_retries(settings: Any) -> None:
    settings.WEBHOOK_RETRY_BASE_S = 0.05
    settings.WEBHOOK_MAX_ATTEMPTS = 4
    settings.WEBHOOK_TIMEOUT_S = 5.0


def _analysis_succeeds(recording: Recording, clinician: User) -> str:
    job = job_create(recording=recording, requested_by=clinician)
    assert job_claim(job_id=job.id, worker="celery@test")
    assert job_succeed(job_id=job.id)
    return str(job.id)


def _deliver_until_settled(delivery: WebhookDelivery) -> list[float]:
    """Run the delivery as the task would: an attempt, then the next after its delay."""
    delays = []
    while (delay := webhook_delivery_attempt(delivery_id=delivery.id)) is not None:
        delays.append(delay)
        time.sleep(delay)
    return delays


def _header(request: Any, name: str) -> str:
    return {key.lower(): value for key, value in request.headers.items()}[name.lower()]


def test_a_delivery_that_fails_twice_is_retried_with_growing_delays_and_then_accepted(
    recording: Recording, dr_rivera: User, northside_ehr: Integration
) -> None:
    with webhook_receiver(500, 503) as receiver:
        registered = webhook_endpoint_register(
            integration=northside_ehr, url=receiver.url, events=["analysis.succeeded"]
        )
        job_id = _analysis_succeeds(recording, dr_rivera)
        delivery = WebhookDelivery.objects.get()
        delays = _deliver_until_settled(delivery)
        requests = receiver.wait_for(3)

    assert [request.answered for request in requests] == [500, 503, 200]
    assert delays == [0.05, 0.1]  # the base, then doubled
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.DELIVERED, 3)
    assert [attempt.status_code for attempt in delivery.attempt_log.all()] == [500, 503, 200]
    assert delivery.attempt_log.all()[0].response_excerpt == "temporarily unavailable"

    # Every attempt carries the same event, signed afresh; the receiver can check each.
    for request in requests:
        assert signature_is_valid(registered.secret, request.headers, request.body)
        assert _header(request, ID_HEADER) == str(delivery.id)
    event = orjson.loads(requests[-1].body)
    assert event["type"] == "analysis.succeeded"
    assert event["data"] == {
        "patient": str(recording.session.patient_id),
        "session": str(recording.session_id),
        "recording": str(recording.id),
        "job": job_id,
    }


def test_the_signature_fails_for_a_changed_body_a_wrong_secret_or_an_old_timestamp(
    recording: Recording, dr_rivera: User, northside_ehr: Integration
) -> None:
    with webhook_receiver() as receiver:
        registered = webhook_endpoint_register(
            integration=northside_ehr, url=receiver.url, events=["analysis.succeeded"]
        )
        _analysis_succeeds(recording, dr_rivera)
        _deliver_until_settled(WebhookDelivery.objects.get())
        [request] = receiver.wait_for(1)

    secret, headers, body = registered.secret, request.headers, request.body
    assert _header(request, SIGNATURE_HEADER).startswith("v1=")
    assert signature_is_valid(secret, headers, body)
    assert not signature_is_valid(secret, headers, body.replace(b"succeeded", b"failed"))
    assert not signature_is_valid("whsec_someone-else", headers, body)
    sent_at = int(_header(request, TIMESTAMP_HEADER))
    assert not signature_is_valid(secret, headers, body, now=sent_at + 301)  # a replay, later
    assert signature_is_valid(secret, headers, body, now=sent_at + 299)


def test_a_receiver_that_never_accepts_is_given_up_after_the_last_attempt(
    recording: Recording, dr_rivera: User, northside_ehr: Integration
) -> None:
    with webhook_receiver(500, 500, 500, 500, 500) as receiver:
        webhook_endpoint_register(
            integration=northside_ehr, url=receiver.url, events=["analysis.succeeded"]
        )
        _analysis_succeeds(recording, dr_rivera)
        delivery = WebhookDelivery.objects.get()
        _deliver_until_settled(delivery)
        assert len(receiver.wait_for(4)) == 4
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.FAILED, 4)
    assert webhook_delivery_attempt(delivery_id=delivery.id) is None  # nothing more is tried


def test_an_unreachable_receiver_is_logged_and_retried(
    recording: Recording, dr_rivera: User, northside_ehr: Integration
) -> None:
    with webhook_receiver() as receiver:
        gone = receiver.url
    webhook_endpoint_register(integration=northside_ehr, url=gone, events=["analysis.succeeded"])
    _analysis_succeeds(recording, dr_rivera)
    delivery = WebhookDelivery.objects.get()
    assert webhook_delivery_attempt(delivery_id=delivery.id) == 0.05
    attempt = delivery.attempt_log.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("ConnectError")


def test_an_admin_replays_a_delivery_and_the_receiver_gets_the_same_event_again(
    client: Client,
    recording: Recording,
    dr_rivera: User,
    alex_admin: User,
    northside_ehr: Integration,
) -> None:
    with webhook_receiver() as receiver:
        webhook_endpoint_register(
            integration=northside_ehr, url=receiver.url, events=["analysis.succeeded"]
        )
        _analysis_succeeds(recording, dr_rivera)
        first = WebhookDelivery.objects.get()
        _deliver_until_settled(first)

        alex_admin.is_staff = True
        alex_admin.save()
        client.force_login(alex_admin)
        answer = client.post(
            "/admin/clinic/webhookdelivery/",
            {"action": "replay", "_selected_action": [str(first.id)]},
        )
        assert answer.status_code == 302
        again = WebhookDelivery.objects.exclude(id=first.id).get()
        _deliver_until_settled(again)
        requests = receiver.wait_for(2)

    assert again.event_id == first.event_id
    assert [orjson.loads(r.body)["id"] for r in requests] == [str(first.event_id)] * 2
    assert again.endpoint_id == first.endpoint_id


def test_only_subscribed_endpoints_of_integrations_that_may_see_the_patient_are_told(
    recording: Recording,
    dr_rivera: User,
    dr_okafor: User,
    northside: Organisation,
    northside_ehr: Integration,
) -> None:
    url = "https://ehr.example.org/hooks"
    told = webhook_endpoint_register(
        integration=northside_ehr, url=url, events=["analysis.succeeded", "analysis.failed"]
    ).endpoint
    webhook_endpoint_register(integration=northside_ehr, url=url, events=["consent.revoked"])
    okafor_only = integration_create(
        organisation=northside, name="Okafor's", care_team_clinicians=[dr_okafor]
    )
    webhook_endpoint_register(integration=okafor_only, url=url, events=["analysis.succeeded"])
    southside = integration_create(
        organisation=OrganisationFactory.create(name="Southside"), name="Southside EHR"
    )
    webhook_endpoint_register(integration=southside, url=url, events=["analysis.succeeded"])

    _analysis_succeeds(recording, dr_rivera)
    failing = job_create(recording=recording, requested_by=dr_rivera)
    job_fail(job_id=failing.id, code="corrupt_media", message="The file is damaged.")

    deliveries = WebhookDelivery.objects.order_by("created_at")
    assert [(d.endpoint_id, d.event) for d in deliveries] == [
        (told.id, "analysis.succeeded"),
        (told.id, "analysis.failed"),
    ]
    assert deliveries[1].payload["data"]["error_code"] == "corrupt_media"


def test_revoking_consent_and_purging_a_patient_are_told_with_ids_only(
    patient: Patient,
    consents: dict[str, Consent],
    recording: Recording,
    northside_ehr: Integration,
) -> None:
    webhook_endpoint_register(
        integration=northside_ehr,
        url="https://ehr.example.org/hooks",
        events=[WebhookEvent.CONSENT_REVOKED, WebhookEvent.PATIENT_PURGED],
    )
    consent_revoke(consent=consents["voice"])
    patient_purge(patient_id=patient.id)

    revoked, purged = (d.payload for d in WebhookDelivery.objects.order_by("created_at"))
    assert revoked["type"] == "consent.revoked"
    assert revoked["data"] == {
        "patient": str(patient.id),
        "consent": str(consents["voice"].id),
        "modality": "voice",
    }
    assert purged["type"] == "patient.purged"
    assert purged["data"] == {"patient": str(patient.id)}
    for payload in (revoked, purged):
        assert patient.pseudonym not in orjson.dumps(payload).decode()


def test_a_purge_is_told_to_a_confined_integration_before_the_care_team_is_gone(
    northside: Organisation, dr_okafor: User
) -> None:
    okafor_only = integration_create(
        organisation=northside, name="Okafor's", care_team_clinicians=[dr_okafor]
    )
    webhook_endpoint_register(
        integration=okafor_only, url="https://ehr.example.org/h", events=["patient.purged"]
    )
    theirs = PatientFactory.create(organisation=northside, pseudonym="P-0100")
    theirs.clinicians.add(dr_okafor)
    patient_purge(patient_id=theirs.id)
    assert WebhookDelivery.objects.get().payload["data"]["patient"] == str(theirs.id)


@pytest.mark.parametrize(
    "url",
    [
        "http://ehr.example.org/hooks",  # not https
        "https://127.0.0.1/hooks",  # this host
        "https://10.1.2.3/hooks",  # the private network
        "https://169.254.169.254/latest/meta-data",  # a cloud's metadata service
        "https://user:pass@ehr.example.org/hooks",  # credentials in the URL
    ],
)
def test_a_webhook_url_that_could_reach_inside_is_refused(
    url: str, settings: Any, ehr_client: KeyClient
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    refused = ehr_client(Scope.WEBHOOKS_MANAGE).post(
        "/api/v1/webhooks/", {"url": url, "events": ["analysis.succeeded"]}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "webhook_url_refused"


def test_an_integration_registers_lists_inspects_and_removes_its_endpoints(
    recording: Recording, dr_rivera: User, ehr_client: KeyClient
) -> None:
    ehr = ehr_client(Scope.WEBHOOKS_MANAGE)
    with webhook_receiver(500) as receiver:
        registered = ehr.post(
            "/api/v1/webhooks/",
            {"url": receiver.url, "events": ["analysis.succeeded"]},
            format="json",
        )
        assert registered.status_code == 201
        endpoint = registered.json()
        assert endpoint["secret"].startswith("whsec_")
        listed = ehr.get("/api/v1/webhooks/").json()
        assert [item["id"] for item in listed] == [endpoint["id"]]
        assert "secret" not in listed[0]  # shown once, at registration

        _analysis_succeeds(recording, dr_rivera)
        _deliver_until_settled(WebhookDelivery.objects.get())
        receiver.wait_for(2)

    [delivery] = ehr.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries/").json()
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 200]

    assert ehr.delete(f"/api/v1/webhooks/{endpoint['id']}/").status_code == 204
    assert ehr.get("/api/v1/webhooks/").json() == []
    _analysis_succeeds(recording, dr_rivera)
    assert WebhookDelivery.objects.count() == 1  # a removed endpoint is told nothing more


def test_retry_delays_double_up_to_their_cap(settings: Any) -> None:
    settings.WEBHOOK_RETRY_BASE_S = 30.0
    settings.WEBHOOK_RETRY_MAX_S = 3600.0
    assert [retry_delay_s(n) for n in range(1, 9)] == [
        30.0,
        60.0,
        120.0,
        240.0,
        480.0,
        960.0,
        1920.0,
        3600.0,
    ]
