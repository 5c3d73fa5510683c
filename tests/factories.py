"""factory-boy factories for the clinic domain. Personas are built from these in conftest.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import factory
from django.contrib.auth.models import Group
from django.core.files import File
from django.utils import timezone

from clinic.models import (
    CareTeamMembership,
    Consent,
    ConsentScope,
    Organisation,
    Patient,
    Recording,
    TherapySession,
    User,
)
from clinic.roles import Role
from clinic.services import recording_create

TEST_PASSWORD = "correct horse battery staple"


class OrganisationFactory(factory.django.DjangoModelFactory[Organisation]):
    class Meta:
        model = Organisation
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Practice {n}")


class UserFactory(factory.django.DjangoModelFactory[User]):
    """A member of staff; pass `role=Role.CLINICIAN` (or ADMIN, AUDITOR) to put them in a group."""

    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    organisation = factory.SubFactory(OrganisationFactory)
    password = factory.django.Password(TEST_PASSWORD)

    @factory.post_generation
    def role(user: User, create: bool, extracted: Role | None, **_: Any) -> None:
        if create and extracted is not None:
            user.groups.add(Group.objects.get(name=str(extracted)))


class PatientFactory(factory.django.DjangoModelFactory[Patient]):
    class Meta:
        model = Patient

    organisation = factory.SubFactory(OrganisationFactory)
    pseudonym = factory.Sequence(lambda n: f"P-{n:04d}")
    display_name = "Sam"
    year_of_birth = 1988


class CareTeamMembershipFactory(factory.django.DjangoModelFactory[CareTeamMembership]):
    class Meta:
        model = CareTeamMembership

    patient = factory.SubFactory(PatientFactory)
    clinician = factory.SubFactory(UserFactory, role=Role.CLINICIAN)


class TherapySessionFactory(factory.django.DjangoModelFactory[TherapySession]):
    class Meta:
        model = TherapySession

    patient = factory.SubFactory(PatientFactory)
    clinician = factory.SubFactory(UserFactory, role=Role.CLINICIAN)
    date = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=1))
    notes = "Talked about sleep and the new job."


class ConsentFactory(factory.django.DjangoModelFactory[Consent]):
    class Meta:
        model = Consent

    patient = factory.SubFactory(PatientFactory)
    modality = ConsentScope.ANALYSIS
    form_version = "2026-01"
    given_by = "patient"
    given_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))


class RecordingFactory(factory.django.DjangoModelFactory[Recording]):
    """A stored recording made through `recording_create`; pass `clip=<path of a real file>`."""

    class Meta:
        model = Recording

    session = factory.SubFactory(TherapySessionFactory)

    @classmethod
    def _create(cls, model_class: type[Recording], *args: Any, **kwargs: Any) -> Recording:
        clip: Path = kwargs.pop("clip")
        with clip.open("rb") as handle:
            return recording_create(
                session=kwargs.pop("session"),
                file=File(handle, name=clip.name),
                uploaded_by=kwargs.pop("uploaded_by", None),
                content_type="video/mp4",
            )
