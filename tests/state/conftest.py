"""Fixtures of the state tests."""

from __future__ import annotations

import pytest

from tests.loopback_azure.azurite import Azurite
from tests.state.azureblob_kit import CONTAINER


@pytest.fixture(scope="session")
def azurite_state(azurite: Azurite) -> str:
    """Azurite's connection string, with the state container created."""
    azurite.container(CONTAINER)
    return azurite.connection_string
