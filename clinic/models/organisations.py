"""Practices and the staff who work in them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.contrib.auth.models import AbstractUser
from django.db import models

from clinic.roles import Role


class Organisation(models.Model):
    """A practice or clinic: the boundary no patient data crosses."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A member of staff. Roles are Django groups (see clinic/roles.py)."""

    # The identifier URLs and the API expose; the integer key stays internal.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Empty only for platform operators (superusers), who belong to no practice.
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="members"
    )

    def has_role(self, role: Role) -> bool:
        # Group names are cached per instance: templates and access checks ask often.
        cached: frozenset[str] | None = getattr(self, "_role_names", None)
        if cached is None:
            names = self.groups.values_list("name", flat=True) if self.pk else ()
            cached = self.role_names_known(names)
        return str(role) in cached

    def role_names_known(self, names: Iterable[str]) -> frozenset[str]:
        """Say which groups this account is in, read with it (see StaffTokenAuthentication)."""
        self._role_names = frozenset(names)
        return self._role_names

    @property
    def is_clinician(self) -> bool:
        return self.has_role(Role.CLINICIAN)

    @property
    def is_practice_admin(self) -> bool:
        return self.has_role(Role.ADMIN)

    @property
    def is_auditor(self) -> bool:
        return self.has_role(Role.AUDITOR)

    @property
    def is_integration(self) -> bool:
        return self.has_role(Role.INTEGRATION)
