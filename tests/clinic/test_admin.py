"""The admin shows every model of the domain, and keeps the audit trail read-only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent, ConsentScope, Organisation, Patient, Recording, User
from tests.factories import ConsentFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client: Client) -> Client:
    client.force_login(UserFactory.create(username="operator", is_staff=True, is_superuser=True))
    return client


def test_every_clinic_model_is_in_the_admin() -> None:
    clinic_models = set(apps.get_app_config("clinic").get_models())
    assert clinic_models <= set(admin.site._registry)


def test_each_admin_list_and_detail_page_opens(
    operator_client: Client, recording: Recording, dr_rivera: User
) -> None:
    for model in apps.get_app_config("clinic").get_models():
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        assert operator_client.get(url).status_code == 200, url
        first = model._default_manager.first()
        if first is not None:
            detail = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])
            assert operator_client.get(detail).status_code == 200, detail


def test_audit_events_cannot_be_added_edited_or_deleted_in_the_admin(
    operator_client: Client, recording: Recording
) -> None:
    event = AuditEvent.objects.first()
    assert event is not None
    add = operator_client.get(reverse("admin:clinic_auditevent_add"))
    delete = operator_client.get(reverse("admin:clinic_auditevent_delete", args=[event.pk]))
    assert (add.status_code, delete.status_code) == (403, 403)


def test_the_patient_list_shows_each_modalitys_consent_and_finds_those_needing_attention(
    operator_client: Client, patient: Patient, northside: Organisation
) -> None:
    now = timezone.now()
    ConsentFactory.create(patient=patient, modality=ConsentScope.ANALYSIS)
    ConsentFactory.create(
        patient=patient, modality=ConsentScope.FACE, expires_at=now + dt.timedelta(days=10)
    )
    ConsentFactory.create(
        patient=patient, modality=ConsentScope.VOICE, revoked_at=now - dt.timedelta(hours=1)
    )  # and none at all for the transcript
    settled = PatientFactory.create(organisation=northside, pseudonym="P-0099")
    for modality in ConsentScope:
        ConsentFactory.create(patient=settled, modality=modality)
    url = reverse("admin:clinic_patient_changelist")

    page = operator_client.get(url).content.decode()
    expiring = (now + dt.timedelta(days=10)).date().isoformat()
    assert f"expires {expiring}" in page
    assert f"revoked {(now - dt.timedelta(hours=1)).date().isoformat()}" in page
    assert "missing" in page

    def listed(attention: str) -> set[str]:
        response = operator_client.get(url, {"consent": attention})
        return {p.pseudonym for p in response.context["cl"].result_list}

    assert listed("missing") == {"P-0042"}
    assert listed("expiring") == {"P-0042"}
    assert listed("revoked") == {"P-0042"}
