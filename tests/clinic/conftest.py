"""Fixtures of the clinic's tests: Northside's EHR as an integration, and clients with its
keys."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from clinic.models import Integration, Organisation
from clinic.scopes import Scope
from clinic.services.integrations import integration_create, integration_key_issue
from tests.clinic.integration_support import ALL_SCOPES, KeyClient, client_with


@pytest.fixture
def northside_ehr(northside: Organisation) -> Integration:
    return integration_create(organisation=northside, name="Northside EHR")


@pytest.fixture
def ehr_client(northside_ehr: Integration) -> KeyClient:
    """`ehr_client(Scope.X, ...)`: a client whose key holds exactly those scopes (all when
    none are named), of Northside's EHR unless another integration is given."""

    def make(*scopes: Scope, integration: Integration | None = None) -> APIClient:
        issued = integration_key_issue(
            integration=integration or northside_ehr, scopes=list(scopes or ALL_SCOPES)
        )
        return client_with(issued.secret)

    return make
