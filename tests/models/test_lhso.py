"""A sensor suggests an LHSO consequence category; the inspector decides."""

from __future__ import annotations

import pytest

from vth.models import Detection, severity_for, suggest_lhso

HOUR = 3600.0


@pytest.mark.parametrize(
    ("factor", "hours", "consequence"),
    [
        (1.0, 0.5, 1),
        (1.19, 3.99, 1),
        (1.2, 0.5, 2),  # factor boundary 1.2
        (1.0, 4.0, 2),  # duration boundary 4 h
        (1.99, 23.99, 2),
        (2.0, 0.5, 3),  # factor boundary 2
        (1.0, 24.0, 3),  # duration boundary 24 h
        (4.99, 23.99, 3),
        (2.0, 24.0, 4),  # twice the limit for a day
        (5.0, 0.5, 4),  # factor boundary 5
        (50.0, 100.0, 4),
    ],
)
def test_consequence_grows_with_size_and_duration(factor: float, hours: float, consequence: int):
    suggestion = suggest_lhso(factor, hours * HOUR, "NOx")

    assert suggestion.consequence == consequence
    assert suggestion.behaviour == "unknown"
    assert f"{factor:.2f}x the limit for {hours:.1f} h" in suggestion.reason
    assert "advisory" in suggestion.reason
    assert "hazardous" not in suggestion.reason


@pytest.mark.parametrize(
    ("substance", "factor", "hours", "consequence"),
    [
        ("HF", 1.0, 0.5, 2),
        ("HCl", 1.2, 0.5, 3),
        ("benzene", 2.0, 0.5, 4),
        ("Hg", 5.0, 0.5, 4),  # already at the top: stays 4
    ],
)
def test_a_hazardous_substance_moves_one_category_up(
    substance: str, factor: float, hours: float, consequence: int
):
    suggestion = suggest_lhso(factor, hours * HOUR, substance)

    assert suggestion.consequence == consequence
    if consequence > suggest_lhso(factor, hours * HOUR, "NOx").consequence:
        assert f"{substance} is hazardous" in suggestion.reason


def test_without_a_limit_the_consequence_is_unclear_and_limited():
    suggestion = suggest_lhso(None, 10 * HOUR, "HF")

    assert suggestion.consequence == 2
    assert "no limit" in suggestion.reason


@pytest.mark.parametrize(
    ("factor", "severity"),
    [
        (None, "medium"),
        (1.0, "low"),
        (1.0999, "low"),
        (1.1, "medium"),
        (1.4999, "medium"),
        (1.5, "high"),
        (2.999, "high"),
        (3.0, "critical"),
    ],
)
def test_severity_follows_the_exceedance_factor(factor: float | None, severity: str):
    assert severity_for(factor) == severity


def test_detection_exceedance_factor_and_duration():
    detection = Detection(
        detector="exceedance",
        kind="exceedance",
        mba_id="m",
        start="2026-01-05T10:00:00Z",
        end="2026-01-05T11:30:00Z",
        value=500.0,
        limit=400.0,
    )

    assert detection.duration_s == 5400
    assert detection.exceedance_factor == 1.25
    assert detection.model_copy(update={"limit": None}).exceedance_factor is None
