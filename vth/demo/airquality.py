"""The real history of the tuning walkthrough: a year of a metal-oxide CO sensor.

UCI "Air Quality" (De Vito et al. 2008, CC BY 4.0), in ``examples/data``: hourly
responses of metal-oxide sensors beside a certified reference analyser, March 2004 to
April 2005, Italian local time, ``-200`` for missing values. The README walkthrough
imports it with the same options from the command line; tests and benchmarks use these.
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from vth.detectors.tuning.labels import Label, labels_from_threshold
from vth.sensing.importers import CsvOptions, import_csv

#: The CSV in the repository's examples.
AIRQUALITY_CSV = Path(__file__).resolve().parents[2] / "examples" / "data" / "airquality-uci.csv"
#: The hypothetical MBA around the station, in ``examples/tuning/profiles``.
AIRQUALITY_MBA = "airquality-roadside"
#: How the walkthrough reads the file: the CO sensor as ``mox-1``, the analyser as ``reference``.
AIRQUALITY_OPTIONS = CsvOptions(
    mba_id=AIRQUALITY_MBA,
    sensor="mox-1",
    time_columns=["Date", "Time"],
    dayfirst=True,
    timezone="Europe/Rome",
    missing=[-200],
    columns=["PT08_S1_CO", "CO_GT"],
    rename={"CO_GT": "reference/CO"},
    units={"CO": "mg/m3"},
)


def airquality_history(path: Path = AIRQUALITY_CSV) -> xr.Dataset:
    """The year as a stream dataset (sensors ``mox-1`` and ``reference``)."""
    return import_csv(path, AIRQUALITY_OPTIONS).dataset


def airquality_labels(history: xr.Dataset, above: float = 6.0) -> list[Label]:
    """Spells in which the reference analyser read CO above ``above`` mg/m3, for ``mox-1``."""
    return labels_from_threshold(
        history, "reference", "CO", above, merge_gap="2h", label_sensor="mox-1", kind="peak"
    )
