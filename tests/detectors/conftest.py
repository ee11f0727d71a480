"""Fixtures of the detector tests: the example MBA profiles."""

from __future__ import annotations

import pytest

from vth.models import MbaProfile, load_profiles

from .builders import EXAMPLE_PROFILES


@pytest.fixture(scope="session")
def profiles() -> dict[str, MbaProfile]:
    """The four example MBA profiles, keyed by id."""
    return load_profiles(EXAMPLE_PROFILES)
