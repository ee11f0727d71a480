"""``vth archive``, ``vth backtest`` and ``vth detect --detector-params`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from vth.cli import app
from vth.detectors.settings_file import load_detector_params
from vth.gateways.journal import Journal

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ROOT / "examples" / "profiles"
GASTURBINE = ROOT / "examples" / "data" / "gasturbine-2011.nc"

runner = CliRunner()


def invoke(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def stack_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archive") / "history.zarr"
    code, text = invoke("archive", "import", GASTURBINE, "--out", out)
    assert code == 0, text
    return out


def test_archive_import_of_csv_journal_and_netcdf_then_info(tmp_path: Path) -> None:
    csv = tmp_path / "fence.csv"
    csv.write_text(
        "timestamp;NOx [mg/m3];wind_speed\n"
        "2026-03-01T00:00:00Z;12,5;3\n2026-03-01T00:01:00Z;-200;4\n",
        encoding="utf-8",
    )
    journal = tmp_path / "journal.jsonl"
    pack = [{"bn": "cems-9:", "bt": 1772323200, "n": "SO2", "u": "mg/m3", "v": 40.0}]
    Journal(journal).append(
        [
            (1772323201 * 10**9, "vth/avi-rozenburg/cems-9", json.dumps(pack).encode()),
            (1772323202 * 10**9, "vth/avi-rozenburg/cems-9", b"not json"),
        ]
    )
    out = tmp_path / "history.zarr"
    code, text = invoke(
        "archive", "import", csv, journal, "--out", out, "--mba", "tankopslag-europoort",
        "--sep", ";", "--decimal", ",", "--missing", "-200",
    )  # fmt: skip
    assert code == 0, text
    assert "1 value(s) marked missing" in text
    assert "1 quarantined" in text
    assert "tankopslag-europoort" in text and "avi-rozenburg" in text
    code, text = invoke("archive", "import", GASTURBINE, "--out", out, "--append")
    assert code == 0, text
    code, text = invoke("archive", "info", out)
    assert code == 0, text
    for name in ("gasturbine-maasvlakte", "cems-gt1", "fence", "cems-9", "2011-01-01T00:00Z"):
        assert name in text


def test_archive_import_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,NOx\n2026-03-01T00:00:00Z,abc\n", encoding="utf-8")
    code, text = invoke("archive", "import", bad, "--out", tmp_path / "a.zarr", "--mba", "m")
    assert code == 1 and "line 2" in text and "'abc' is not a number" in text
    code, text = invoke("archive", "import", tmp_path / "x.txt", "--out", tmp_path / "a.zarr")
    assert code == 1
    code, text = invoke("archive", "info", tmp_path / "missing.zarr")
    assert code == 1 and "missing.zarr" in text


def test_single_backtest_writes_detections_metrics_and_saves_params(
    stack_archive: Path, tmp_path: Path
) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "mba_id,start,end,kind\n"
        "gasturbine-maasvlakte,2011-03-14T00:00:00Z,2011-03-15T00:00:00Z,exceedance\n",
        encoding="utf-8",
    )
    settings = tmp_path / "detectors.yaml"
    code, text = invoke(
        "backtest", "--archive", stack_archive, "--profiles", PROFILES, "--detector", "compliance",
        "--labels", labels, "--param", "substances=[NOx]", "--start", "2011-03-01",
        "--end", "2011-04-01", "--out", tmp_path / "out", "--save-params", settings,
    )  # fmt: skip
    assert code == 0, text
    assert "precision" in text and "false_alarms_per_sensor_month" in text
    metrics = pd.read_csv(tmp_path / "out" / "metrics.csv")
    assert metrics["labels"].iloc[0] == 1
    assert (tmp_path / "out" / "detections.jsonl").read_text().count("\n") == metrics[
        "detections"
    ].iloc[0]
    assert load_detector_params(settings) == {"compliance": {"substances": ["NOx"]}}


def test_sweep_in_this_process_writes_the_table_and_plots(
    stack_archive: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sweep"
    code, text = invoke(
        "backtest", "--archive", stack_archive, "--profiles", PROFILES, "--detector", "deviation",
        "--grid", "threshold=3,5", "--grid", "window=24h,72h", "--start", "2011-02-01",
        "--end", "2011-03-01", "--workers", "0", "--metric", "false_alarms_per_sensor_month",
        "--out", out,
    )  # fmt: skip
    assert code == 0, text
    assert "4 parameter set(s) of deviation on this process" in text
    table = pd.read_csv(out / "sweep.csv")
    assert list(table["run"]) == [0, 1, 2, 3]
    assert (out / "metrics_vs_threshold.png").exists()
    assert (out / "best_detections.jsonl").exists()


def test_random_search_draws_from_distributions(stack_archive: Path, tmp_path: Path) -> None:
    code, text = invoke(
        "backtest", "--archive", stack_archive, "--profiles", PROFILES, "--detector", "deviation",
        "--grid", "threshold=uniform(2,6)", "--random", "3", "--seed", "1",
        "--start", "2011-02-01", "--end", "2011-02-15", "--workers", "0", "--out", tmp_path,
    )  # fmt: skip
    assert code == 0, text
    thresholds = pd.read_csv(tmp_path / "sweep.csv")["param_threshold"]
    assert len(thresholds) == 3 and thresholds.between(2, 6).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--detector", "nope"], "no detector named 'nope'"),
        (["--detector", "deviation", "--param", "treshold=3"], "no parameter(s) treshold"),
        (["--detector", "deviation", "--grid", "threshold"], "expected NAME=V1,V2"),
        (["--detector", "deviation", "--grid", "threshold=uniform(1,2)"], "need --random"),
        (["--detector", "deviation", "--labels", "missing.csv"], "no such labels file"),
        (["--detector", "heat"], "image detectors"),
        (["--detector", "deviation", "--param", "window=a: b: c"], "is not a duration"),
        (["--detector", "deviation", "--grid", "threshold=[1,2"], "threshold must be > 0"),
    ],
)
def test_backtest_errors_name_the_problem(
    stack_archive: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    code, text = invoke(
        "backtest", "--archive", stack_archive, "--profiles", PROFILES, "--workers", "0",
        "--out", tmp_path, *args,
    )  # fmt: skip
    assert code == 1
    assert message in " ".join(text.split())


def test_detect_runs_an_opt_in_detector_named_in_the_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "detectors.yaml"
    settings.write_text("deviation:\n  threshold: 3.0\n  window: 24h\n", encoding="utf-8")
    alerts = tmp_path / "alerts.jsonl"
    code, text = invoke(
        "detect", "--profiles", PROFILES, "--data", GASTURBINE, "--out", alerts,
        "--detector-params", settings,
    )  # fmt: skip
    assert code == 0, text
    detectors = {json.loads(line)["detector"] for line in alerts.read_text().splitlines()}
    assert "deviation" in detectors and "compliance" in detectors
    settings.write_text("deviation:\n  treshold: 3.0\n", encoding="utf-8")
    code, text = invoke(
        "detect", "--profiles", PROFILES, "--data", GASTURBINE, "--out", alerts,
        "--detector-params", settings,
    )  # fmt: skip
    assert code == 1 and "treshold" in text
