"""The xarray data model: stream datasets ``(sensor, time)``, units, buffers and files."""

from vth.sensing.buffer import AppendResult, StreamBuffer
from vth.sensing.errors import (
    ReferenceConditionError,
    SensingError,
    StreamFormatError,
    UnitError,
)
from vth.sensing.io import open_streams, read_long_csv, write_netcdf
from vth.sensing.readings import Reading
from vth.sensing.streams import annotate, make_stream_dataset, validate_stream_dataset

__all__ = [
    "AppendResult",
    "Reading",
    "ReferenceConditionError",
    "SensingError",
    "StreamBuffer",
    "StreamFormatError",
    "UnitError",
    "annotate",
    "make_stream_dataset",
    "open_streams",
    "read_long_csv",
    "validate_stream_dataset",
    "write_netcdf",
]
