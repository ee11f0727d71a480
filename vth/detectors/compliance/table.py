"""The compliance report as a readable table (rich), for the CLI."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from vth.detectors.compliance.report import ComplianceReport, LimitReport, Verdict

VERDICT_STYLE: dict[Verdict, str] = {
    "non-compliant": "bold red",
    "error": "bold magenta",
    "insufficient data": "yellow",
    "provisional": "cyan",
    "not measured": "dim",
    "not operating": "dim",
    "compliant": "green",
}


def report_table(report: ComplianceReport) -> Table:
    """One row per MBA, source, sensor and limit, with counts, result and verdict."""
    table = Table(
        title=f"Compliance {report.period} "
        f"({report.period_start:%Y-%m-%d %H:%M} to {report.period_end:%Y-%m-%d %H:%M} UTC)",
        caption=_caption(report),
    )
    for column, justify in (
        ("MBA", "left"),
        ("source", "left"),
        ("sensor", "left"),
        ("limit", "left"),
        ("rule", "left"),
        ("valid", "right"),
        ("disc.", "right"),
        ("pend.", "right"),
        ("above", "right"),
        ("result", "right"),
        ("verdict", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for mba in report.mbas:
        table.add_section()
        for i, lim in enumerate(mba.limits):
            counts = lim.windows
            table.add_row(
                mba.mba_id if i == 0 else "",
                lim.source_id,
                lim.sensor_id or "-",
                f"{lim.substance} {lim.average} {lim.limit:g} {lim.unit}",
                lim.rule,
                str(counts.valid) if counts else "-",
                str(counts.discarded) if counts else "-",
                str(counts.pending) if counts else "-",
                str(lim.exceedances) if counts else "-",
                _result(lim),
                Text(lim.verdict, style=VERDICT_STYLE[lim.verdict]),
            )
    return table


def reason_lines(report: ComplianceReport) -> list[str]:
    """Why each limit that is not simply compliant got its verdict."""
    return [
        f"{mba.mba_id}/{lim.source_id} {lim.sensor_id or ''} {lim.substance} {lim.average} "
        f"{lim.rule}: {reason}".replace("  ", " ")
        for mba in report.mbas
        for lim in mba.limits
        if lim.verdict != "compliant"
        for reason in lim.reasons
    ]


def _result(lim: LimitReport) -> str:
    """The worst percentile result, or the highest validated average."""
    if lim.rolling_24h is not None and lim.rolling_24h.worst_fraction is not None:
        return f"min {lim.rolling_24h.worst_fraction:.1%} within"
    judged = [p for p in lim.percentile if p.fraction is not None]
    if judged:
        worst = min(judged, key=lambda p: p.fraction or 0.0)
        return f"{worst.fraction:.1%} within"
    if lim.max_validated is not None:
        return f"max {lim.max_validated:g}"
    return "-"


def _caption(report: ComplianceReport) -> str:
    end = f"data until {report.data_end:%Y-%m-%d %H:%M} UTC" if report.data_end else "no data"
    return f"{end}; averages after the confidence interval, at reference O2; verdict per limit"
