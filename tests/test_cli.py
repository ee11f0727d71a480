"""The ``vth`` command line, as an inspector or data scientist uses it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import EXAMPLE_PROFILES, ROOT
from vth.api.store import AlertStore
from vth.cli import app
from vth.gateways.broker import free_port
from vth.models import load_profiles

runner = CliRunner()
EXAMPLE_NC = ROOT / "examples" / "data" / "gasturbine-2011.nc"
ALERT_FIELDS = {
    "id",
    "mba_id",
    "source_id",
    "detector",
    "kind",
    "substance",
    "start",
    "end",
    "value",
    "limit",
    "unit",
    "lat",
    "lon",
    "severity",
    "lhso",
    "candidates",
    "evidence",
}


def test_profiles_validate_accepts_the_examples():
    result = runner.invoke(app, ["profiles", "validate", str(EXAMPLE_PROFILES)])
    assert result.exit_code == 0, result.output
    assert "4 valid MBA profile(s)" in result.output


def test_profiles_validate_lists_every_invalid_field_and_exits_non_zero(tmp_path: Path):
    (tmp_path / "bad.yaml").write_text(
        """
id: bad site
name: Bad
operator: X
activity: y
location: {lat: 95, lon: 4}
sources:
  - id: s1
    limits:
      - {substance: NOx, unit: furlong, value: -1, average: 2h}
sensors:
  - {id: c1, kind: cems, source_id: nowhere}
colour: red
"""
    )
    (tmp_path / "broken.yml").write_text("id: [unclosed\n")
    result = runner.invoke(app, ["profiles", "validate", str(tmp_path)])
    assert result.exit_code == 1
    out = result.output
    for expected in (
        "bad.yaml: id:",
        "location.lat:",
        "sources[0].limits[0].unit: unknown unit 'furlong'",
        "sources[0].limits[0].value:",
        "sources[0].limits[0].average:",
        "colour: Extra inputs are not permitted",
        "broken.yml: line 2",
    ):
        assert expected in out, f"{expected!r} missing from:\n{out}"


def test_detect_on_the_example_netcdf_writes_json_lines_alerts(tmp_path: Path):
    out = tmp_path / "alerts.jsonl"
    result = runner.invoke(
        app,
        [
            "detect",
            "--profiles",
            str(EXAMPLE_PROFILES),
            "--data",
            str(EXAMPLE_NC),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    assert alerts, "the real 2011 gas turbine data exceeds the example permit"
    for alert in alerts:
        assert alert.keys() >= ALERT_FIELDS
        assert alert["mba_id"] == "gasturbine-maasvlakte"
        assert alert["value"] > alert["limit"]
        assert alert["start"].endswith("Z") and alert["end"].endswith("Z")
        assert alert["lhso"]["behaviour"] == "unknown"
    assert {a["substance"] for a in alerts} <= {"NOx", "CO"}
    assert len({a["id"] for a in alerts}) == len(alerts)
    assert f"{len(alerts)} alert(s) written" in result.output


def test_detect_reads_long_csv_and_warns_about_mbas_without_profile(tmp_path: Path):
    rows = ["time,mba_id,sensor,quantity,value,unit"]
    for minute in range(60):
        t = f"2026-01-05T10:{minute:02d}:00Z"
        rows.append(f"{t},chemie-botlek,fl-east,benzene,{120 if minute < 20 else 10},ug/m3")
        rows.append(f"{t},unknown-site,x1,NOx,5,mg/m3")
    csv = tmp_path / "streams.csv"
    csv.write_text("\n".join(rows) + "\n")
    result = runner.invoke(
        app, ["detect", "--profiles", str(EXAMPLE_PROFILES), "--data", str(csv), "--out", "-"]
    )
    assert result.exit_code == 0, result.output
    assert "no profile for MBA 'unknown-site'" in result.output
    alerts = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(a["source_id"], a["start"], a["end"]) for a in alerts] == [
        ("fenceline-east", "2026-01-05T10:00:00Z", "2026-01-05T10:20:00Z")
    ]


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        (b"not a netcdf file", ".nc", "not a readable netCDF file"),
        (
            b"time,sensor\n2026-01-01T00:00Z,x\n",
            ".csv",
            "missing column(s) mba_id, quantity, value, unit",
        ),
        (b"a,b", ".parquet", "unknown stream file type"),
    ],
)
def test_detect_on_a_bad_file_names_the_file_and_the_problem(
    tmp_path: Path, content: bytes, suffix: str, message: str
):
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(content)
    result = runner.invoke(app, ["detect", "--profiles", str(EXAMPLE_PROFILES), "--data", str(bad)])
    assert result.exit_code == 1
    assert message in result.output
    assert str(bad) in result.output.replace("\n", "")


def test_detect_with_an_unknown_detector_lists_the_registered_ones(tmp_path: Path):
    result = runner.invoke(
        app,
        [
            "detect",
            "--profiles",
            str(EXAMPLE_PROFILES),
            "--data",
            str(EXAMPLE_NC),
            "--detector",
            "nope",
        ],
    )
    assert result.exit_code == 1
    assert "no detector named 'nope'" in result.output and "compliance" in result.output


def test_compliance_report_for_a_month_prints_the_table_and_writes_json(tmp_path: Path):
    report_file = tmp_path / "report.json"
    result = runner.invoke(
        app,
        [
            "compliance",
            "--profiles",
            str(EXAMPLE_PROFILES),
            "--data",
            str(EXAMPLE_NC),
            "--period",
            "2011-03",
            "--json",
            str(report_file),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Compliance 2011-03" in result.output
    assert "NOx 1h 100 mg/m3" in result.output and "non-compliant" in result.output
    assert "1h average(s) above 100 mg/m3" in result.output  # the reason, under the table
    assert "overall: non-compliant" in result.output
    report = json.loads(report_file.read_text())
    assert report["period_start"] == "2011-03-01T00:00:00Z"
    [mba] = report["mbas"]
    assert mba["mba_id"] == "gasturbine-maasvlakte"
    hourly = next(x for x in mba["limits"] if (x["substance"], x["average"]) == ("NOx", "1h"))
    assert hourly["windows"]["total"] == 31 * 24
    assert hourly["exceedances"] == len(hourly["exceeding_windows"]) > 0


def test_compliance_json_to_stdout_keeps_the_table_on_stderr():
    result = CliRunner().invoke(
        app,
        [
            "compliance",
            "--profiles",
            str(EXAMPLE_PROFILES),
            "--data",
            str(EXAMPLE_NC),
            "--period",
            "2011-03-01/2011-03-02",
            "--json",
            "-",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["period_end"] == "2011-03-03T00:00:00Z"  # a date END includes that day


def test_compliance_with_an_unreadable_period_names_it_and_the_accepted_forms():
    result = runner.invoke(
        app,
        [
            "compliance",
            "--profiles",
            str(EXAMPLE_PROFILES),
            "--data",
            str(EXAMPLE_NC),
            "--period",
            "2011-13",
        ],
    )
    assert result.exit_code == 1
    assert "period '2011-13' is not a year (2026), month (2026-01)" in result.output


def test_compliance_exits_non_zero_when_a_limit_cannot_be_evaluated(tmp_path: Path):
    from vth.sensing import make_stream_dataset, write_netcdf

    times = np.datetime64("2026-01-05T00:00", "ns") + np.arange(24 * 60) * np.timedelta64(1, "m")
    ds = make_stream_dataset(
        "avi-rozenburg", ["cems-l1"], times, {"NOx": (np.full((1, len(times)), 150.0), "mg/m3")}
    )
    path = tmp_path / "avi-no-o2.nc"
    write_netcdf(ds, path)

    result = runner.invoke(
        app,
        [
            "compliance",
            "--profiles",
            str(EXAMPLE_PROFILES),
            "--data",
            str(path),
            "--period",
            "2026-01-05",
        ],
    )
    assert result.exit_code == 1
    assert "has no O2" in result.output and "cems-l1" in result.output
    assert "could not be evaluated" in result.output


def test_detectors_command_lists_the_compliance_detector():
    result = runner.invoke(app, ["detectors"])
    assert result.exit_code == 0
    assert "exceedance" in result.output


def test_demo_shows_alerts_on_embedded_defaults(tmp_path: Path):
    """`make demo` path: embedded broker, SQLite, simulator; alerts within a minute."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vth.cli",
            "demo",
            "--duration",
            "60",
            "--exit-after-alerts",
            "9",
            "--port",
            str(free_port()),
            "--workdir",
            str(tmp_path / "demo"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MQTT broker (embedded)" in proc.stdout
    assert proc.stdout.count("ALERT exceedance") >= 2
    assert "avi-rozenburg/line-1 NOx" in proc.stdout
    assert "ALERT peak chemie-botlek/fenceline-east benzene" in proc.stdout
    assert "4 quarantined" in proc.stdout
    assert "ALERT sensor_fault dcmr-enose-rijnmond/en-rozenburg-w: flatline" in proc.stdout
    assert "ALERT gas_incident" in proc.stdout
    assert "ALERT heat_anomaly chemie-botlek/furnace-1" in proc.stdout
    assert "where no heat source is permitted" in proc.stdout
    assert "ALERT methane_plume tankopslag-europoort" in proc.stdout
    assert (tmp_path / "demo" / "vth.db").exists()
    # what the API serves: the incident with its ranked candidates and reasoning
    store = AlertStore(f"sqlite:///{tmp_path / 'demo' / 'vth.db'}")
    try:
        incidents = [a for a in store.list(limit=100) if a.kind == "gas_incident"]
    finally:
        store.close()
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident.candidates[0].mba_id == "chemie-botlek"
    assert incident.mba_id == "chemie-botlek"
    assert "Wind from" in incident.evidence["reasoning"]
    assert len(incident.evidence["responding"]) >= 2


def scenario_files(tmp_path: Path) -> tuple[Path, Path, Path, object]:
    """A simulated release as stream files, with profiles and a network file for its sensors."""
    import yaml

    from vth.sensing.io import write_netcdf
    from vth.sensing.scenario import clean_history, random_scenario, simulate

    scenario = random_scenario(1001, n_enoses=30, minutes=2 * 1440, n_releases=1)
    profiles = tmp_path / "profiles"
    (profiles / "networks").mkdir(parents=True)
    write_netcdf(simulate(scenario), tmp_path / "streams.nc")
    write_netcdf(clean_history(scenario, 2 * 1440), tmp_path / "history.nc")
    by_mba: dict[str, list[Any]] = {}
    for point in scenario.network.emission_points:
        by_mba.setdefault(point.mba_id, []).append(point)
    for mba, points in by_mba.items():
        where = {"lat": points[0].lat, "lon": points[0].lon}
        sources = [
            {"id": p.source_id, "kind": p.kind, "location": {"lat": p.lat, "lon": p.lon}}
            for p in points
        ]
        profile = {"id": mba, "name": mba, "operator": "BV", "activity": "chemie"}
        (profiles / f"{mba}.yaml").write_text(
            yaml.safe_dump({**profile, "location": where, "sources": sources})
        )
    sites = [
        {"id": s.id, "kind": s.kind, "location": {"lat": s.lat, "lon": s.lon}}
        for s in scenario.sites
    ]
    network = {"id": scenario.network.id, "name": "e-noses", "operator": "DCMR", "sensors": sites}
    (profiles / "networks" / "enoses.yaml").write_text(yaml.safe_dump(network))
    return profiles, tmp_path / "streams.nc", tmp_path / "history.nc", scenario


def test_detect_finds_an_enose_incident_in_files_when_fitted_on_history(tmp_path: Path):
    profiles, streams, history, scenario = scenario_files(tmp_path)
    base = ["detect", "--profiles", str(profiles), "--data", str(streams), "--detector", "enose"]

    unfitted = runner.invoke(app, [*base, "--out", str(tmp_path / "a.jsonl")])
    fitted = runner.invoke(
        app, [*base, "--history", str(history), "--out", str(tmp_path / "alerts.jsonl")]
    )

    assert unfitted.exit_code == 1
    assert "must be fitted on history" in unfitted.output and "--history" in unfitted.output
    assert fitted.exit_code == 0, fitted.output
    alerts = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [a["kind"] for a in alerts] == ["gas_incident"]
    release = scenario.releases[0]  # type: ignore[attr-defined]
    assert alerts[0]["candidates"][0]["mba_id"] == release.mba_id


def test_detect_judges_images_and_reports_an_unreadable_one(tmp_path: Path):
    """GeoTIFF (UTM) and STAC inputs beside each other; a corrupt file is reported, the
    others still judged; findings within the permit are listed, not alerted."""
    from vth.demo.rasters import demo_images

    profiles = load_profiles(EXAMPLE_PROFILES)
    when = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
    (thermal_platform, thermal), (_, reference), (_, plume_item) = demo_images(
        profiles, when, tmp_path / "assets"
    )
    images = tmp_path / "images"
    images.mkdir()
    (images / "botlek-thermal.tif").write_bytes(thermal)
    (images / "broken.tif").write_bytes(thermal[:3000])
    (images / "europoort-s2.json").write_bytes(plume_item)
    (tmp_path / "reference.tif").write_bytes(reference)
    out_file = tmp_path / "alerts.jsonl"
    result = runner.invoke(
        app,
        [
            "detect",
            "--profiles",
            str(EXAMPLE_PROFILES),
            "--data",
            str(images),
            "--reference",
            str(tmp_path / "reference.tif"),
            "--out",
            str(out_file),
        ],
    )
    assert thermal_platform == "landsat-9"
    assert result.exit_code == 1, result.output
    assert "broken.tif: corrupt or unreadable GeoTIFF" in result.output
    alerts = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert sorted((a["kind"], a["mba_id"], a["source_id"] or "-") for a in alerts) == [
        ("heat_anomaly", "chemie-botlek", "-"),
        ("heat_anomaly", "chemie-botlek", "furnace-1"),
        ("methane_plume", "tankopslag-europoort", "tank-t12"),
    ]
    methane = next(a for a in alerts if a["kind"] == "methane_plume")
    assert methane["evidence"]["retrieval"] == "MBMP"
    assert "within the permit (recorded, not alerted)" in result.output
    assert "flare-1" in result.output
