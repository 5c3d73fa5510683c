"""Field shapes the domain models repeat."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


def staff_reference() -> models.ForeignKey[Any, Any]:
    """Which member of staff did something; kept empty if that account is ever removed."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
