"""Fixtures of the model tests: the example profiles and a way to write profile files."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

EXAMPLE_PROFILES = Path(__file__).resolve().parents[2] / "examples" / "profiles"


@pytest.fixture
def example_profile_data() -> Callable[[str], dict[str, Any]]:
    """Parsed YAML of one example profile (a fresh copy each call, free to break)."""

    def load(mba_id: str) -> dict[str, Any]:
        data = yaml.safe_load((EXAMPLE_PROFILES / f"{mba_id}.yaml").read_text(encoding="utf-8"))
        assert isinstance(data, dict)
        return copy.deepcopy(data)

    return load


@pytest.fixture
def write_profile(tmp_path: Path) -> Callable[[str, Any], Path]:
    """Write a profile file into a fresh directory: YAML text as given, or data dumped."""

    def write(name: str, content: Any) -> Path:
        path = tmp_path / name
        text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write
