"""The three staff roles and what each may do, as Django groups and permissions.

A data migration creates the groups with these permissions; `user.is_clinician` and friends
read membership. Object-level rules (which clinician sees which patient) live in access.py.
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    CLINICIAN = "clinician", "Clinician"
    ADMIN = "admin", "Practice administrator"
    AUDITOR = "auditor", "Auditor"
    # The account an integration acts as (clinic.models.integrations): what it may do is its
    # credential's scopes, not permissions of its own.
    INTEGRATION = "integration", "Integration"


# Permission codenames of the `clinic` app granted to each role.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Role.CLINICIAN: (
        "view_patient",
        "view_careteammembership",
        "view_therapysession",
        "add_therapysession",
        "change_therapysession",
        "view_recording",
        "add_recording",
        "view_consent",
        "add_consent",
        "change_consent",
        "view_analysisjob",
        "add_analysisjob",
        "change_analysisjob",
        "view_timelineresult",
    ),
    Role.ADMIN: (
        "view_organisation",
        "change_organisation",
        "view_user",
        "add_user",
        "change_user",
        "view_patient",
        "add_patient",
        "change_patient",
        "view_careteammembership",
        "add_careteammembership",
        "change_careteammembership",
        "delete_careteammembership",
        "view_consent",
        "add_consent",
        "change_consent",
        "view_analysisjob",
        # Retention is the practice's to set; legal holds are placed and released, not deleted.
        "view_retentionpolicy",
        "add_retentionpolicy",
        "change_retentionpolicy",
        "view_legalhold",
        "add_legalhold",
        "change_legalhold",
        # The practice's EHR integrations, their credentials and webhooks.
        "view_integration",
        "add_integration",
        "change_integration",
        "view_integrationkey",
        "add_integrationkey",
        "change_integrationkey",
        "view_webhookendpoint",
        "change_webhookendpoint",
        "view_webhookdelivery",
    ),
    Role.AUDITOR: (
        "view_auditevent",
        "view_analysisjob",
        "view_user",
    ),
    Role.INTEGRATION: (),
}


def sync_role_groups(**signal_kwargs: object) -> None:
    """Make the role groups hold exactly ROLE_PERMISSIONS; connected to `post_migrate`.

    Running after every migrate (and after the flush of a transactional test) keeps the groups
    present and their permissions current as models are added, which a one-off data migration
    cannot do.
    """
    from django.contrib.auth.models import Group, Permission

    for role, codenames in ROLE_PERMISSIONS.items():
        permissions = Permission.objects.filter(
            content_type__app_label="clinic", codename__in=codenames
        )
        missing = set(codenames) - set(permissions.values_list("codename", flat=True))
        if missing:
            raise RuntimeError(f"Role {role} names unknown permissions: {sorted(missing)}")
        group, _ = Group.objects.get_or_create(name=str(role))
        group.permissions.set(permissions)
