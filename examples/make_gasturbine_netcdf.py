"""Build examples/data/gasturbine-2011.nc from the UCI gas turbine CO/NOx data.

Source: "Gas Turbine CO and NOx Emission Data Set", Kaya, Tüfekci & Uzun (2019), UCI
Machine Learning Repository, CC BY 4.0. The published rows are hourly aggregates in
time order without timestamps; this script gives them hourly UTC timestamps from
2011-01-01 00:00. Values are mg/m3 at 15% O2 (turbine reference), so the variables
carry ``reference_o2 = 15``.

Usage: python examples/make_gasturbine_netcdf.py [path/to/gt_2011.csv] [out.nc]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from vth.sensing.io import write_netcdf
from vth.sensing.streams import make_stream_dataset

HERE = Path(__file__).resolve().parent
DEFAULT_CSV = HERE.parent.parent / "shared" / "data" / "gas-turbine-co-nox" / "gt_2011.csv"
DEFAULT_OUT = HERE / "data" / "gasturbine-2011.nc"


def build(csv: Path, out: Path) -> None:
    df = pd.read_csv(csv)
    times = pd.date_range("2011-01-01", periods=len(df), freq="1h").to_numpy()
    ds = make_stream_dataset(
        mba_id="gasturbine-maasvlakte",
        sensors=["cems-gt1"],
        times=times,
        variables={
            "NOx": (df["NOX"].to_numpy()[None, :], "mg/m3"),
            "CO": (df["CO"].to_numpy()[None, :], "mg/m3"),
            "TIT": (df["TIT"].to_numpy()[None, :], "Cel"),
        },
    )
    for name in ("NOx", "CO"):
        ds[name].attrs["reference_o2"] = np.float64(15.0)
    ds.attrs.update(
        title="Gas turbine stack CO and NOx, hourly, 2011 (timestamps assigned)",
        source="UCI ML Repository, Gas Turbine CO and NOx Emission Data Set (Kaya et al. 2019)",
        license="CC BY 4.0",
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    write_netcdf(ds, out)
    print(f"wrote {out} ({len(df)} hours)")


if __name__ == "__main__":
    csv = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CSV
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_OUT
    build(csv, out)
