"""``vth labels export`` turns the alerts inspectors closed into labels; ``check`` reads them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.api.conftest import build_alert
from vth.api.store import AlertStore
from vth.cli import app
from vth.detectors.tuning.labels import LABEL_COLUMNS, read_labels
from vth.models import Alert
from vth.models.workflow import StatusChange

T0 = datetime(2025, 11, 22, 10, 0, tzinfo=UTC)

runner = CliRunner()


def invoke(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'vth.db'}"


@pytest.fixture
def reviewed_store(tmp_path: Path) -> list[Alert]:
    """A NOx exceedance (true alarm) at AVI Rozenburg, an open SO2 peak there, and a gas
    incident at Chemie Botlek closed as a false alarm."""
    nox = build_alert()
    so2 = build_alert(
        kind="peak",
        detector="peaks",
        substance="SO2",
        start=T0 + timedelta(hours=2),
        end=T0 + timedelta(hours=2, minutes=30),
    )
    gas = build_alert(
        kind="gas_incident",
        detector="enose",
        mba_id="chemie-botlek",
        source_id=None,
        sensor_id="enose-12",
        substance=None,
        start=T0 + timedelta(hours=4),
        end=T0 + timedelta(hours=5),
    )
    with AlertStore(database_url(tmp_path)) as store:
        assert store.upsert_many([nox, so2, gas]) == 3
        store.change_status(
            nox.id, StatusChange(status="closed", outcome="confirmed_violation"), "j.devries"
        )
        store.change_status(
            gas.id,
            StatusChange(status="closed", outcome="no_violation", note="tank cleaning"),
            "k.jansen",
        )
    return [nox, so2, gas]


def test_export_writes_the_reviewed_alerts_as_csv_labels(
    tmp_path: Path, reviewed_store: list[Alert]
) -> None:
    nox, _, gas = reviewed_store
    out = tmp_path / "labels.csv"

    code, text = invoke("labels", "export", "--database", database_url(tmp_path), "--out", out)

    assert code == 0, text
    assert "2 label(s) written" in text
    assert "1 true alarm(s), 1 false alarm(s)" in text
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(frame.columns) == list(LABEL_COLUMNS)
    assert frame["mba_id"].tolist() == ["avi-rozenburg", "chemie-botlek"]
    assert frame["sensor"].tolist() == ["cems-l1", "enose-12"]
    assert frame["kind"].tolist() == ["exceedance", "gas_incident"]
    assert frame["truth"].tolist() == ["true", "false"]
    assert frame["start"].tolist() == ["2025-11-22T10:00:00Z", "2025-11-22T14:00:00Z"]
    assert frame["end"].tolist() == ["2025-11-22T10:30:00Z", "2025-11-22T15:00:00Z"]
    assert nox.id in frame["note"].iloc[0] and "j.devries" in frame["note"].iloc[0]
    assert gas.id in frame["note"].iloc[1] and "tank cleaning" in frame["note"].iloc[1]

    labels = read_labels(out)
    assert [(lb.mba_id, lb.sensor, lb.truth) for lb in labels] == [
        ("avi-rozenburg", "cems-l1", True),
        ("chemie-botlek", "enose-12", False),
    ]
    assert (labels[0].start, labels[0].end) == (nox.start, nox.end)
    assert (labels[1].start, labels[1].end) == (gas.start, gas.end)


def test_export_of_one_mba(tmp_path: Path, reviewed_store: list[Alert]) -> None:
    out = tmp_path / "botlek.csv"

    code, text = invoke(
        "labels", "export", "--database", database_url(tmp_path), "--out", out,
        "--mba", "chemie-botlek",
    )  # fmt: skip

    assert code == 0, text
    assert "1 label(s) written" in text
    labels = read_labels(out)
    assert [(lb.mba_id, lb.sensor, lb.kind, lb.truth) for lb in labels] == [
        ("chemie-botlek", "enose-12", "gas_incident", False)
    ]


def test_export_as_json_reads_back(tmp_path: Path, reviewed_store: list[Alert]) -> None:
    nox, _, gas = reviewed_store
    out = tmp_path / "x.json"

    code, text = invoke("labels", "export", "--database", database_url(tmp_path), "--out", out)

    assert code == 0, text
    payload = json.loads(out.read_text(encoding="utf-8"))
    assert len(payload["labels"]) == 2
    labels = read_labels(out)
    assert [(lb.mba_id, lb.sensor, lb.kind, lb.truth) for lb in labels] == [
        ("avi-rozenburg", "cems-l1", "exceedance", True),
        ("chemie-botlek", "enose-12", "gas_incident", False),
    ]
    assert [(lb.start, lb.end) for lb in labels] == [(nox.start, nox.end), (gas.start, gas.end)]


def test_export_without_reviewed_alerts_writes_only_the_header(tmp_path: Path) -> None:
    with AlertStore(database_url(tmp_path)) as store:
        store.upsert(build_alert())
    out = tmp_path / "labels.csv"

    code, text = invoke("labels", "export", "--database", database_url(tmp_path), "--out", out)

    assert code == 0, text
    assert "0 label(s) written" in text
    assert out.read_text(encoding="utf-8").splitlines() == [",".join(LABEL_COLUMNS)]
    assert read_labels(out) == []


def test_export_of_an_unknown_mba_writes_no_labels(
    tmp_path: Path, reviewed_store: list[Alert]
) -> None:
    out = tmp_path / "labels.json"

    code, text = invoke(
        "labels", "export", "--database", database_url(tmp_path), "--out", out,
        "--mba", "nowhere",
    )  # fmt: skip

    assert code == 0, text
    assert "0 label(s) written" in text
    assert read_labels(out) == []


def test_export_from_an_unusable_database_fails_cleanly(tmp_path: Path) -> None:
    code, text = invoke(
        "labels", "export", "--database", "not a url", "--out", tmp_path / "labels.csv"
    )

    assert code == 1
    assert "error:" in text and "invalid database URL" in text
    assert not (tmp_path / "labels.csv").exists()


def test_check_summarises_a_good_labels_file(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(
        "mba_id,sensor,start,end,kind,truth\n"
        "avi-rozenburg,cems-l1,2025-11-22T10:00:00Z,2025-11-22T10:30:00Z,exceedance,true\n"
        "avi-rozenburg,cems-l1,2025-11-23T10:00:00Z,2025-11-23T10:30:00Z,exceedance,true\n"
        "chemie-botlek,enose-12,2025-11-22T14:00:00Z,2025-11-22T15:00:00Z,gas_incident,false\n",
        encoding="utf-8",
    )

    code, text = invoke("labels", "check", path)

    assert code == 0, text
    assert "3 label(s)" in text
    assert "avi-rozenburg" in text and "chemie-botlek" in text
    assert "cems-l1" in text and "gas_incident" in text


def test_check_of_an_exported_file_passes(tmp_path: Path, reviewed_store: list[Alert]) -> None:
    out = tmp_path / "labels.csv"
    code, text = invoke("labels", "export", "--database", database_url(tmp_path), "--out", out)
    assert code == 0, text

    code, text = invoke("labels", "check", out)

    assert code == 0, text
    assert "2 label(s)" in text


def test_check_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "mba_id,sensor,start,end,truth\n"
        "avi-rozenburg,cems-l1,2025-11-22T10:00:00Z,2025-11-22T10:30:00Z,true\n"
        "avi-rozenburg,cems-l1,2025-11-22T10:00:00Z,2025-11-22T10:30:00Z,perhaps\n",
        encoding="utf-8",
    )

    code, text = invoke("labels", "check", path)

    assert code == 1
    assert "error:" in text
    assert "bad.csv" in text and "line 3" in text and "perhaps" in text


def test_check_names_a_label_ending_before_it_starts(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "mba_id,start,end\n"
        "avi-rozenburg,2025-11-22T10:00:00Z,2025-11-22T10:30:00Z\n"
        "\n"
        "avi-rozenburg,2025-11-22T10:00:00Z,2025-11-22T09:00:00Z\n",
        encoding="utf-8",
    )

    code, text = invoke("labels", "check", path)

    assert code == 1
    assert "line 4" in text and "before start" in text
