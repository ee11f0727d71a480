"""``vth inventory``: the matrix, the coverage and the gap list, as tables and exports."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from typer.testing import CliRunner, Result

from tests.conftest import EXAMPLE_PROFILES, ROOT
from vth.cli import app
from vth.inventory.capabilities import capabilities
from vth.inventory.catalogue import load_catalogue
from vth.inventory.coverage import coverage, gaps
from vth.inventory.tables import COVERAGE_COLUMNS, coverage_table
from vth.models import load_profiles
from vth.models.loading import load_deployment_networks

README = ROOT / "README.md"
START, END = "<!-- inventory-matrix:start -->", "<!-- inventory-matrix:end -->"
PROFILES = ["--profiles", str(EXAMPLE_PROFILES)]


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["inventory", *args])


def example_coverage_table() -> tuple[list[str], list[list[str]]]:
    profiles = load_profiles(EXAMPLE_PROFILES)
    rows = coverage(
        [profiles[m] for m in sorted(profiles)],
        load_catalogue(),
        capabilities(),
        load_deployment_networks(EXAMPLE_PROFILES),
    )
    return coverage_table(rows)


def example_gaps_table() -> tuple[list[str], list[list[str]]]:
    profiles = load_profiles(EXAMPLE_PROFILES)
    rows = coverage(
        [profiles[m] for m in sorted(profiles)],
        load_catalogue(),
        capabilities(),
        load_deployment_networks(EXAMPLE_PROFILES),
    )
    return coverage_table(gaps(rows))


def test_vth_inventory_prints_the_matrix_the_coverage_and_the_gaps():
    result = run(*PROFILES)

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Technologies x tasks (x: national inventory; brackets: this toolkit)" in out
    assert "Coverage of 4 MBA(s)" in out
    assert "Gaps and partial coverage" in out
    assert out.index("Technologies x tasks") < out.index("Coverage of") < out.index("Gaps and")
    # rich wraps long cells: look for words that fit a column
    for text in ("Satellite", "Drones", "(mqtt-rasters)", "gasturbine-maasvlakte", "partial"):
        assert text in out
    gap_list = out.split("Gaps and partial coverage", 1)[1]
    assert gap_list.count("│ chemie-botlek ") == 1
    assert gap_list.count("│ tankopslag-europoort ") == 2
    assert "avi-rozenburg" not in gap_list


def test_the_readme_matrix_is_the_output_of_vth_inventory():
    result = run("--show", "matrix", "--format", "markdown")
    assert result.exit_code == 0, result.output

    readme = README.read_text(encoding="utf-8")
    assert readme.count(START) == 1 and readme.count(END) == 1
    block = readme.split(START, 1)[1].split(END, 1)[0].strip("\n") + "\n"
    assert block == result.stdout, (
        "the technology x task matrix in README.md is out of date: paste the new output of "
        "`vth inventory --show matrix --format markdown` between the "
        f"{START} and {END} markers:\n{result.stdout}"
    )


def test_the_matrix_as_csv(tmp_path: Path):
    out_file = tmp_path / "matrix.csv"

    result = run("--show", "matrix", "--format", "csv", "--out", str(out_file))

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"wrote {out_file}" in result.stderr.replace("\n", "")
    parsed = list(csv.reader(io.StringIO(out_file.read_text(encoding="utf-8"))))
    assert parsed[0][0] == "technology"
    assert [line[0] for line in parsed[1:]] == [t.name for t in load_catalogue().technologies]


def test_the_gaps_as_csv_are_the_gaps_of_the_examples(tmp_path: Path):
    out_file = tmp_path / "gaps.csv"

    result = run("--show", "gaps", "--format", "csv", "--out", str(out_file), *PROFILES)

    assert result.exit_code == 0, result.output
    parsed = list(csv.reader(io.StringIO(out_file.read_text(encoding="utf-8"))))
    header, body = example_gaps_table()
    assert parsed == [header, *body]
    assert parsed[0] == COVERAGE_COLUMNS
    # by hand (see tests/inventory/test_coverage.py): gaps first, then partial coverage
    assert [(line[0], line[2], line[6]) for line in parsed[1:]] == [
        ("chemie-botlek", "methane", "gap"),
        ("gasturbine-maasvlakte", "gas_release", "gap"),
        ("tankopslag-europoort", "methane", "partial"),
        ("tankopslag-europoort", "gas_release", "partial"),
    ]


def test_the_coverage_as_csv_on_stdout():
    result = run("--show", "coverage", "--format", "csv", *PROFILES)

    assert result.exit_code == 0, result.output
    header, body = example_coverage_table()
    assert list(csv.reader(io.StringIO(result.stdout))) == [header, *body]


def test_the_coverage_of_one_mba():
    result = run("--show", "coverage", "--format", "csv", "--mba", "chemie-botlek", *PROFILES)

    assert result.exit_code == 0, result.output
    parsed = list(csv.reader(io.StringIO(result.stdout)))
    assert {line[0] for line in parsed[1:]} == {"chemie-botlek"}
    assert len(parsed) == 1 + 10


def test_another_agency_has_an_empty_coverage():
    result = run("--show", "coverage", "--format", "csv", "--agency", "NOPE", *PROFILES)

    assert result.exit_code == 0, result.output
    assert list(csv.reader(io.StringIO(result.stdout))) == [COVERAGE_COLUMNS]

    gaps_result = run("--show", "gaps", "--format", "csv", "--agency", "NOPE", *PROFILES)
    assert gaps_result.exit_code == 0, gaps_result.output
    assert list(csv.reader(io.StringIO(gaps_result.stdout))) == [COVERAGE_COLUMNS]

    table = run("--agency", "NOPE", *PROFILES)
    assert table.exit_code == 0, table.output
    assert "Coverage of 0 MBA(s)" in table.stdout
    assert "Gaps and partial coverage of NOPE" in table.stdout


def test_an_unknown_mba_fails_clearly():
    result = run("--mba", "nope", *PROFILES)

    assert result.exit_code == 1
    assert "error: no profile for MBA(s) nope in" in result.stderr
    assert result.stdout == ""


def test_one_export_holds_one_table():
    result = run("--show", "all", "--format", "csv")

    assert result.exit_code == 1
    assert (
        "a CSV or Markdown export holds one table: add --show matrix, coverage or gaps"
        in result.stderr
    )
    assert result.stdout == ""


def test_unknown_show_and_format_values_fail():
    show = run("--show", "everything")
    output_format = run("--show", "matrix", "--format", "xlsx")

    assert show.exit_code == 1
    assert "--show must be all, matrix, coverage or gaps, not 'everything'" in show.stderr
    assert output_format.exit_code == 1
    assert "--format must be table, csv or markdown, not 'xlsx'" in output_format.stderr


def test_an_invalid_catalogue_fails_naming_the_field(tmp_path: Path):
    path = tmp_path / "catalogue.yaml"
    path.write_text(
        "tasks: [{id: supervision, name: Supervision}]\n"
        "technologies:\n"
        "  - {id: lidar, name: Lidar, category: wizardry, maturity: pilot}\n",
        encoding="utf-8",
    )

    result = run("--show", "matrix", "--catalogue", str(path))

    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert f"{path}: technologies.0.category: Input should be" in message
    assert result.stdout == ""


def test_an_agency_catalogue_replaces_the_shipped_one(tmp_path: Path):
    path = tmp_path / "catalogue.yaml"
    path.write_text(
        "tasks: [{id: supervision, name: Supervision}]\n"
        "technologies:\n"
        "  - {id: lidar, name: Lidar, category: sensing, maturity: pilot, tasks: [supervision]}\n",
        encoding="utf-8",
    )

    result = run("--show", "matrix", "--format", "csv", "--catalogue", str(path))

    assert result.exit_code == 0, result.output
    parsed = list(csv.reader(io.StringIO(result.stdout)))
    assert parsed[1] == ["Lidar", "x"] + [""] * (len(parsed[0]) - 2)
    # the toolkit's own technologies, not in this catalogue, are added and marked
    assert "sensors (not in catalogue)" in [line[0] for line in parsed]
