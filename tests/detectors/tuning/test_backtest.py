"""Backtests over archives: MBA detectors per MBA, network detectors fitted on history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vth.demo.network import network_sites
from vth.detectors import create
from vth.detectors.errors import DetectorError
from vth.detectors.tuning import DataSpec, Label, MatchOptions, backtest, evaluate, prepare
from vth.models import load_networks, load_profiles, network_of
from vth.pipeline import run_detectors
from vth.sensing.archive import write_archive
from vth.sensing.io import open_streams
from vth.sensing.scenario import Release, Scenario, simulate

ROOT = Path(__file__).resolve().parents[3]
PROFILES = ROOT / "examples" / "profiles"
GASTURBINE = ROOT / "examples" / "data" / "gasturbine-2011.nc"
T0 = np.datetime64("2026-03-02T00:00", "ns")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_compliance_backtest_finds_what_the_detector_finds_on_the_file() -> None:
    profiles = load_profiles(PROFILES)
    ds = open_streams(GASTURBINE)["gasturbine-maasvlakte"]
    direct = run_detectors(ds, profiles["gasturbine-maasvlakte"], [create("compliance")])
    result = backtest(create("compliance"), DataSpec.of(GASTURBINE, PROFILES))
    assert [(d.start, d.end, d.substance) for d in result.detections] == [
        (a.start, a.end, a.substance) for a in direct
    ]
    assert result.metrics.labels == 0 and np.isnan(result.metrics.recall)
    assert result.metrics.false_alarms == len(direct) > 0
    assert result.metrics.sensors == 1


def test_labels_score_and_labels_out_of_scope_are_left_out() -> None:
    spec = DataSpec.of(GASTURBINE, PROFILES, start="2011-03-01", end="2011-04-01")
    found = backtest(create("compliance", substances=["NOx"]), spec).detections
    assert found
    first = found[0]
    labels = [
        Label(mba_id="gasturbine-maasvlakte", start=first.start, end=first.end, kind="exceedance"),
        Label(
            mba_id="gasturbine-maasvlakte",
            start=utc("2011-06-01T00:00"),
            end=utc("2011-06-02T00:00"),
        ),  # outside
        Label(mba_id="another-mba", start=first.start, end=first.end),  # not in the archive
        Label(sensor="cems-gt1", start=utc("2011-03-20T00:00"), end=utc("2011-03-20T01:00")),
    ]
    result = backtest(create("compliance", substances=["NOx"]), spec, labels)
    assert result.metrics.labels == 2
    assert result.metrics.detected >= 1
    assert len(result.labels) == 2
    assert result.span == (utc("2011-03-01T00:00"), utc("2011-04-01T00:00"))


def test_warmup_reads_history_but_drops_detections_before_start() -> None:
    spec = DataSpec.of(GASTURBINE, PROFILES, start="2011-03-10", end="2011-03-20", warmup="7D")
    data = prepare(spec, "mba")
    ds = data.evaluate["gasturbine-maasvlakte"]
    assert pd.Timestamp(ds["time"].values[0]) == pd.Timestamp("2011-03-03")
    result = evaluate(create("deviation", threshold=2.0), data)
    assert all(d.start >= utc("2011-03-10T00:00") for d in result.detections)


def test_refusals_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match="image detectors"):
        prepare(DataSpec.of(GASTURBINE, PROFILES), "raster")
    (tmp_path / "other.yaml").write_text(
        (PROFILES / "chemie-botlek.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    with pytest.raises(DetectorError, match="has a profile"):
        prepare(DataSpec.of(GASTURBINE, tmp_path), "mba")
    with pytest.raises(DetectorError, match="no sensor"):
        prepare(DataSpec.of(GASTURBINE, PROFILES, sensors=["nope"]), "mba")
    with pytest.raises(DetectorError, match="span is empty"):
        prepare(DataSpec.of(GASTURBINE, PROFILES, start="2011-05-01", end="2011-04-01"), "mba")
    data = prepare(DataSpec.of(GASTURBINE, PROFILES), "mba")
    with pytest.raises(DetectorError, match="runs on network"):
        evaluate(create("quality"), data)


def test_enose_incidents_are_fitted_before_fit_until_and_scored_after(tmp_path: Path) -> None:
    profiles = load_profiles(PROFILES)
    networks = load_networks(PROFILES / "networks")
    sites, group = network_sites(profiles, networks)
    day = 1440
    releases = (
        Release("chemie-botlek", "flare-1", T0 + np.timedelta64(day + 300, "m"), 45, 150.0),
        Release("chemie-botlek", "flare-1", T0 + np.timedelta64(day + 900, "m"), 60, 200.0),
    )
    scenario = Scenario(
        network=network_of(profiles, networks),
        sites=tuple(sites),
        start=T0,
        minutes=2 * day,
        releases=releases,
        seed=5,
        wind_from_deg=230.0,
        wind_speed_m_s=4.5,
    )
    ds = simulate(scenario)
    owners = np.array([group[str(s)] for s in ds["sensor"].values], dtype=object)
    archive = write_archive(ds.assign_coords(mba_id=("sensor", owners)), tmp_path / "net.zarr")
    labels = [
        Label(
            mba_id=r.mba_id,
            start=pd.Timestamp(r.start).tz_localize("UTC").to_pydatetime(),
            end=(pd.Timestamp(r.start) + pd.Timedelta(minutes=r.minutes))
            .tz_localize("UTC")
            .to_pydatetime(),
            kind="gas_incident",
        )
        for r in releases
    ]
    spec = DataSpec.of(archive, PROFILES, fit_until="2026-03-03T00:00")
    with pytest.raises(DetectorError, match="fit_until"):
        backtest(create("enose"), DataSpec.of(archive, PROFILES), labels)
    result = backtest(create("enose"), spec, labels, MatchOptions(late=timedelta(minutes=30)))
    assert not result.errors
    assert result.metrics.labels == 2
    assert result.metrics.recall == 1.0
    assert result.metrics.time_to_detect_median_s < 30 * 60
    assert all(d.start >= utc("2026-03-03T00:00") for d in result.detections)
