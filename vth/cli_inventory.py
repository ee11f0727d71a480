"""``vth inventory``: the technology x task matrix and the coverage per MBA, as tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from vth.cli_common import err, out
from vth.cli_common import fail as _fail
from vth.errors import VthError
from vth.inventory import tables
from vth.inventory.capabilities import capabilities
from vth.inventory.catalogue import load_catalogue
from vth.inventory.coverage import coverage, gaps
from vth.inventory.matrix import technology_task_matrix
from vth.models import load_profiles
from vth.models.loading import load_deployment_networks


def inventory(
    catalogue: Annotated[
        Path | None,
        typer.Option(help="The agency's catalogue YAML (default: the shipped catalogue)."),
    ] = None,
    profiles: Annotated[
        Path, typer.Option(help="MBA profiles (and their networks folder).")
    ] = Path("examples/profiles"),
    networks: Annotated[
        Path | None, typer.Option(help="Sensor networks (default: PROFILES/networks).")
    ] = None,
    mba: Annotated[
        list[str] | None, typer.Option(help="Coverage of these MBAs only (repeatable).")
    ] = None,
    agency: Annotated[
        str | None, typer.Option(help="Coverage and gaps of this agency's MBAs only.")
    ] = None,
    show: Annotated[
        str, typer.Option("--show", help="all, matrix, coverage or gaps (what is not covered).")
    ] = "all",
    output_format: Annotated[
        str, typer.Option("--format", help="table (terminal), csv or markdown.")
    ] = "table",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the export here instead of stdout.")
    ] = None,
) -> None:
    """Which technologies serve which tasks, and which MBA obligations each can check.

    The matrix marks with x what the catalogue (the national inventory) says a
    technology serves, and names in brackets this toolkit's detectors and gateways that
    serve it. The coverage lists per MBA obligation (emission and peak limits, heat
    sources, methane, gas releases) and technology whether it is covered, partial or a
    gap, and why. CSV and Markdown exports take one part (--show matrix, coverage or
    gaps).
    """
    if show not in ("all", "matrix", "coverage", "gaps"):
        raise _fail(f"--show must be all, matrix, coverage or gaps, not {show!r}")
    if output_format not in ("table", "csv", "markdown"):
        raise _fail(f"--format must be table, csv or markdown, not {output_format!r}")
    if output_format != "table" and show == "all":
        raise _fail("a CSV or Markdown export holds one table: add --show matrix, coverage or gaps")
    try:
        found = capabilities()
        known = load_catalogue(catalogue)
        chosen: list[tables.Table] = []
        titles: list[str] = []
        if show in ("all", "matrix"):
            chosen.append(tables.matrix_table(*technology_task_matrix(known, found)))
            titles.append("Technologies x tasks (x: national inventory; brackets: this toolkit)")
        if show != "matrix":
            mba_profiles = load_profiles(profiles)
            unknown = sorted(set(mba or ()) - set(mba_profiles))
            if unknown:
                raise _fail(f"no profile for MBA(s) {', '.join(unknown)} in {profiles}")
            picked = [
                p
                for m, p in sorted(mba_profiles.items())
                if (not mba or m in mba) and (agency is None or p.agency == agency)
            ]
            rows = coverage(picked, known, found, load_deployment_networks(profiles, networks))
            if show in ("all", "coverage"):
                chosen.append(tables.coverage_table(rows))
                titles.append(f"Coverage of {len(picked)} MBA(s)")
            if show in ("all", "gaps"):
                chosen.append(tables.coverage_table(gaps(rows)))
                titles.append("Gaps and partial coverage" + (f" of {agency}" if agency else ""))
    except VthError as exc:
        raise _fail(str(exc)) from None
    if output_format == "table":
        for title, table in zip(titles, chosen, strict=True):
            _print(title, table)
        return
    [table] = chosen
    text = tables.to_csv(table) if output_format == "csv" else tables.to_markdown(table)
    if out_file is None:
        out.print(text, end="", markup=False, highlight=False, soft_wrap=True)
    else:
        out_file.write_text(text, encoding="utf-8")
        err.print(f"wrote {out_file}")


def _print(title: str, table: tables.Table) -> None:
    header, body = table
    shown = RichTable(*header, title=title, show_lines=False)
    for line in body:
        shown.add_row(*line)
    out.print(shown)
