"""The inventory as tables: records for the API, CSV and Markdown for reports."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict

from vth.inventory.coverage import CoverageRow
from vth.inventory.matrix import MatrixRow

Table = tuple[list[str], list[list[str]]]

COVERAGE_COLUMNS = [
    "mba_id",
    "agency",
    "obligation",
    "subject",
    "technology",
    "detectors",
    "status",
    "reason",
]


def matrix_table(tasks: Sequence[str], rows: Sequence[MatrixRow]) -> Table:
    """The technology x task matrix as a table.

    A cell holds ``x`` where the catalogue lists the task, then the toolkit's components
    serving it in brackets; a technology only components declare is marked
    ``(not in catalogue)``.
    """
    header = ["technology", *tasks]
    body = [
        [row.name if row.in_catalogue else f"{row.technology} (not in catalogue)"]
        + [row.cell(task) for task in tasks]
        for row in rows
    ]
    return header, body


def coverage_table(rows: Sequence[CoverageRow]) -> Table:
    """One line per coverage row, detectors joined by ``+``."""
    body = []
    for row in rows:
        record = asdict(row)
        record["detectors"] = "+".join(row.detectors)
        body.append(["" if record[c] is None else str(record[c]) for c in COVERAGE_COLUMNS])
    return list(COVERAGE_COLUMNS), body


def to_csv(table: Table) -> str:
    """The table as CSV (RFC 4180, header first)."""
    header, body = table
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(body)
    return buffer.getvalue()


def to_markdown(table: Table) -> str:
    """The table as a GitHub Markdown table (``|`` in cells escaped)."""
    header, body = table

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *map(line, body)]) + "\n"
