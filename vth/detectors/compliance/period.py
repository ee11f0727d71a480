"""Report periods: a year, a month, a day or an interval, in UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vth.detectors.errors import PeriodError

_YEAR = re.compile(r"^\d{4}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class ReportPeriod:
    """``[start, end)`` in UTC (naive ``datetime64[ns]``) with the text it came from."""

    start: np.datetime64
    end: np.datetime64
    label: str

    @classmethod
    def parse(cls, text: str) -> ReportPeriod:
        """Read ``2026``, ``2026-01``, ``2026-01-15`` or ``START/END``.

        In ``START/END`` each side is a date or an ISO date-time (UTC); an END that is
        a date includes that whole day (``2026-01-01/2026-03-31`` is the first
        quarter), an END with a time is exclusive.

        Raises
        ------
        PeriodError
            When the text is none of these, or the end is not after the start.
        """
        text = text.strip()
        try:
            if "/" in text:
                first, last = (part.strip() for part in text.split("/", 1))
                start = _instant(first)
                end = _instant(last) + pd.Timedelta(days=1 if _DATE.match(last) else 0)
            elif _YEAR.match(text):
                start = pd.Timestamp(f"{text}-01-01")
                end = start + pd.DateOffset(years=1)
            elif _MONTH.match(text):
                start = pd.Timestamp(f"{text}-01")
                end = start + pd.DateOffset(months=1)
            elif _DATE.match(text):
                start = pd.Timestamp(text)
                end = start + pd.Timedelta(days=1)
            else:
                raise ValueError("unrecognised form")
        except ValueError as exc:
            raise PeriodError(
                f"period {text!r} is not a year (2026), month (2026-01), day (2026-01-15) "
                f"or START/END interval (2026-01-01/2026-03-31): {exc}"
            ) from None
        if end <= start:
            raise PeriodError(f"period {text!r} ends before it starts")
        return cls(_ns(start), _ns(end), text)

    @classmethod
    def covering(cls, times: np.ndarray) -> ReportPeriod:
        """The whole UTC days from the first to the last of ``times``."""
        t = np.asarray(times, dtype="datetime64[ns]")
        if len(t) == 0:
            raise PeriodError("no data, so no period to report on; give --period")
        first = t.min().astype("datetime64[D]")
        last = t.max().astype("datetime64[D]") + 1
        return cls(
            first.astype("datetime64[ns]"),
            last.astype("datetime64[ns]"),
            f"{first}/{last - 1}",
        )


def _instant(text: str) -> pd.Timestamp:
    ts = pd.Timestamp(text)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def _ns(ts: pd.Timestamp) -> np.datetime64:
    return np.datetime64(ts.value, "ns")
