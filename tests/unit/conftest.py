"""Fixtures for pure engine tests: a project harness on a recording fake provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.fakes import Harness


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return Harness(tmp_path / "proj")
