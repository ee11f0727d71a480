"""``vth archive``, ``vth labels`` and ``vth backtest``: history, labels and tuning."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vth.cli_common import err, fail, out
from vth.errors import VthError

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from vth.detectors.tuning.backtest import BacktestResult, DataSpec, PreparedData
    from vth.detectors.tuning.labels import Label
    from vth.models import Alert

archive_app = typer.Typer(
    help="Build and inspect archives of stream history.", no_args_is_help=True
)
labels_app = typer.Typer(help="Labelled events for backtests.", no_args_is_help=True)

_JOURNAL_SUFFIXES = (".jsonl", ".journal")


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    result = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise fail(f"{what} {item!r}: expected NAME=VALUE")
        result[key.strip()] = value.strip()
    return result


@archive_app.command("import")
def archive_import(
    files: Annotated[
        list[Path],
        typer.Argument(
            help=(
                "CSV files (wide or long), gateway journals (.jsonl), or netCDF/Zarr stream "
                "files; all go into one archive."
            )
        ),
    ],
    archive: Annotated[Path, typer.Option("--out", help="Archive to write (.zarr or .nc).")],
    layout: Annotated[
        str, typer.Option(help="CSV layout: 'wide' (a column per quantity) or 'long'.")
    ] = "wide",
    mba: Annotated[
        str | None, typer.Option("--mba", help="MBA id of CSV files without an mba_id column.")
    ] = None,
    sensor: Annotated[
        str | None,
        typer.Option(help="Sensor id of CSV values without one (default: the file name)."),
    ] = None,
    quantity: Annotated[
        str | None, typer.Option(help="Quantity of long CSV files without a quantity column.")
    ] = None,
    unit: Annotated[
        str | None, typer.Option(help="Unit of long CSV files without a unit column.")
    ] = None,
    time_column: Annotated[
        list[str] | None,
        typer.Option("--time-column", help="Time column(s); several are joined (Date, Time)."),
    ] = None,
    time_format: Annotated[
        str | None, typer.Option(help="strptime format of the time, e.g. '%d/%m/%Y %H:%M:%S'.")
    ] = None,
    dayfirst: Annotated[bool, typer.Option(help="Read 10/03/2004 as 10 March.")] = False,
    timezone: Annotated[
        str, typer.Option(help="Time zone of times without an offset, e.g. Europe/Amsterdam.")
    ] = "UTC",
    column: Annotated[
        list[str] | None, typer.Option("--column", help="Wide CSV: only these columns.")
    ] = None,
    rename: Annotated[
        list[str] | None,
        typer.Option("--rename", help="COLUMN=QUANTITY or COLUMN=SENSOR/QUANTITY."),
    ] = None,
    units: Annotated[
        list[str] | None, typer.Option("--units", help="QUANTITY=UNIT, e.g. CO=mg/m3.")
    ] = None,
    missing: Annotated[
        list[float] | None, typer.Option("--missing", help="Value meaning no reading (-200).")
    ] = None,
    sep: Annotated[str | None, typer.Option(help="CSV separator (sniffed by default).")] = None,
    decimal: Annotated[str, typer.Option(help="Decimal mark.")] = ".",
    topic_template: Annotated[
        str, typer.Option(help="Topic template of journalled messages.")
    ] = "vth/{mba_id}/{sensor_id}",
    append: Annotated[
        bool, typer.Option(help="Add to the archive at --out instead of replacing it.")
    ] = False,
) -> None:
    """Import history into an archive that 'vth backtest' and 'vth detect' read."""
    from vth.gateways.journal_import import import_journal
    from vth.sensing.archive import ARCHIVE_SUFFIXES, merge_streams, open_archive, write_archive
    from vth.sensing.importers import CsvOptions, import_csv
    from vth.sensing.io import open_streams

    if layout not in ("wide", "long"):
        raise fail(f"--layout must be 'wide' or 'long', not {layout!r}")
    options = CsvOptions(
        layout="wide" if layout == "wide" else "long",
        mba_id=mba,
        sensor=sensor,
        quantity=quantity,
        unit=unit,
        time_columns=time_column or None,
        time_format=time_format,
        dayfirst=dayfirst,
        timezone=timezone,
        columns=column or None,
        rename=_pairs(rename, "--rename"),
        units=_pairs(units, "--units"),
        missing=tuple(missing or ()),
        sep=sep,
        decimal=decimal,
    )
    parts: list[xr.Dataset] = []
    try:
        if append and archive.exists():
            parts.append(open_archive(archive).load())
        for path in files:
            suffix = path.suffix.lower()
            if suffix == ".csv":
                imported = import_csv(path, options)
                parts.append(imported.dataset)
                for note in imported.notes:
                    out.print(f"{path}: {note}", highlight=False)
            elif suffix in _JOURNAL_SUFFIXES:
                journal = import_journal(
                    [path], topic_template, quarantine_path=archive.with_suffix(".quarantine.jsonl")
                )
                parts.append(journal.dataset)
                out.print(
                    f"{path}: {journal.messages} message(s), {journal.readings} reading(s)"
                    + (f", {journal.quarantined} quarantined" if journal.quarantined else ""),
                    highlight=False,
                )
                for problem in journal.problems[:5]:
                    err.print(f"  quarantined: {problem}", highlight=False)
            elif suffix in ARCHIVE_SUFFIXES:
                parts.extend(open_streams(path).values())
            else:
                raise fail(
                    f"{path}: cannot import {suffix or 'files without a suffix'}; give .csv, "
                    f"{', '.join(_JOURNAL_SUFFIXES)} or {', '.join(ARCHIVE_SUFFIXES)} files"
                )
        merged = merge_streams(parts, str(archive))
        written = write_archive(merged, archive)
        summary = open_archive(written)
    except VthError as exc:
        raise fail(str(exc)) from None
    _archive_table(summary.dataset, str(written))


@archive_app.command("info")
def archive_info(
    archive: Annotated[Path, typer.Argument(help="Archive (.zarr, .nc, folder of .nc).")],
) -> None:
    """Show an archive's MBAs, sensors, variables and time span (reads no values)."""
    from vth.sensing.archive import open_archive

    try:
        opened = open_archive(archive)
    except VthError as exc:
        raise fail(str(exc)) from None
    _archive_table(opened.dataset, opened.origin)


def _archive_table(ds: xr.Dataset, origin: str) -> None:
    import numpy as np

    table = Table("mba", "sensors", "variables", "from", "to", title=f"archive {origin}")
    times = ds["time"].values
    mbas = ds["mba_id"].values.astype(str)
    for mba_id in sorted(set(mbas)):
        sensors = ds["sensor"].values[mbas == mba_id].astype(str)
        table.add_row(
            mba_id,
            ", ".join(sensors),
            ", ".join(str(v) for v in ds.data_vars),
            str(np.datetime_as_string(times[0], unit="m")) + "Z" if len(times) else "-",
            str(np.datetime_as_string(times[-1], unit="m")) + "Z" if len(times) else "-",
        )
    out.print(table)
    out.print(f"{ds.sizes['sensor']} sensor(s), {ds.sizes['time']} time(s)", highlight=False)


@labels_app.command("export")
def labels_export(
    database: Annotated[
        str, typer.Option("--database", help="SQLAlchemy URL of the alert store.")
    ] = "sqlite:///var/vth.db",
    labels_out: Annotated[
        Path, typer.Option("--out", help="Labels file to write (.csv or .json).")
    ] = Path("labels.csv"),
    mba: Annotated[str | None, typer.Option("--mba", help="Only this MBA.")] = None,
) -> None:
    """Write the alerts inspectors closed (true or false alarm) as labels."""
    from vth.api.store import AlertFilter, AlertStore
    from vth.detectors.tuning.labels import labels_from_alerts, write_labels

    try:
        with AlertStore(database) as store:
            where = AlertFilter(mba_id=mba, reviewed=True)
            total = store.count(where)
            alerts: list[Alert] = []
            while len(alerts) < total:
                page = store.list(where, limit=1000, offset=len(alerts))
                if not page:
                    break
                alerts.extend(page)
        labels = labels_from_alerts(alerts)
        write_labels(labels, labels_out)
    except VthError as exc:
        raise fail(str(exc)) from None
    true = sum(label.truth for label in labels)
    out.print(
        f"{len(labels)} label(s) written to {labels_out}: {true} true alarm(s), "
        f"{len(labels) - true} false alarm(s)",
        highlight=False,
    )


@labels_app.command("threshold")
def labels_threshold(
    archive: Annotated[Path, typer.Option("--archive", help="Archive holding the reference.")],
    sensor: Annotated[str, typer.Option(help="Reference instrument (sensor id).")],
    variable: Annotated[str, typer.Option(help="Quantity it measures, e.g. CO.")],
    above: Annotated[float, typer.Option(help="Values above this mark an event.")],
    labels_out: Annotated[Path, typer.Option("--out", help="Labels file to write.")] = Path(
        "labels.csv"
    ),
    min_duration: Annotated[str, typer.Option(help="Shortest event, e.g. 1h.")] = "0s",
    merge_gap: Annotated[str, typer.Option(help="Join events this close, e.g. 2h.")] = "0s",
    for_sensor: Annotated[
        str | None, typer.Option(help="Sensor the labels are for (default: --sensor).")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Kind of the labels, e.g. peak.")] = None,
) -> None:
    """Label the spans in which a reference instrument read above a value."""
    from vth.detectors.tuning.labels import labels_from_threshold, write_labels
    from vth.sensing.archive import open_archive

    try:
        opened = open_archive(archive)
        ds = opened.load(variables=[variable])
        labels = labels_from_threshold(
            ds,
            sensor,
            variable,
            above,
            min_duration=min_duration,
            merge_gap=merge_gap,
            label_sensor=for_sensor,
            kind=kind,
        )
        write_labels(labels, labels_out)
    except (VthError, ValueError) as exc:
        raise fail(str(exc)) from None
    out.print(f"{len(labels)} label(s) written to {labels_out}", highlight=False)


@labels_app.command("check")
def labels_check(
    files: Annotated[list[Path], typer.Argument(help="Labels files (.csv or .json).")],
) -> None:
    """Read labels files and summarise them; exit 1 naming the first problem."""
    from vth.detectors.tuning.labels import read_all_labels

    try:
        labels = read_all_labels(files)
    except VthError as exc:
        raise fail(str(exc)) from None
    _labels_table(labels)


def _labels_table(labels: list[Label]) -> None:
    counts: dict[tuple[str, str, str], int] = {}
    for label in labels:
        key = (label.mba_id or "-", label.sensor or "-", label.kind or "any")
        counts[key] = counts.get(key, 0) + (1 if label.truth else 0)
    table = Table("mba", "sensor", "kind", "events", title=f"{len(labels)} label(s)")
    for (mba_id, sensor, kind), n in sorted(counts.items()):
        table.add_row(mba_id, sensor, kind, str(n))
    out.print(table)


def _parse_value(text: str) -> Any:
    """A parameter value as YAML reads it: 3 -> int, 2.5 -> float, none -> None, 24h -> str.

    Text YAML cannot read stays text; the detector's own checks then name the problem.
    """
    try:
        return yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text


def _parse_space(items: list[str] | None, random: bool) -> dict[str, Any]:
    """``--grid`` items: NAME=V1,V2,... or, for random search, NAME=uniform(a,b) etc."""
    from scipy import stats

    distributions = {
        "uniform": lambda a, b: stats.uniform(a, b - a),
        "loguniform": lambda a, b: stats.loguniform(a, b),
        "randint": lambda a, b: stats.randint(a, b + 1),
    }
    space: dict[str, Any] = {}
    for item in items or []:
        name, sep, values = item.partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise fail(f"--grid {item!r}: expected NAME=V1,V2,... or NAME=uniform(LOW,HIGH)")
        head, paren, rest = values.strip().partition("(")
        if paren and head in distributions:
            if not random:
                raise fail(f"--grid {item!r}: distributions need --random N (random search)")
            try:
                low, high = (float(v) for v in rest.rstrip(")").split(","))
            except ValueError:
                raise fail(f"--grid {item!r}: expected {head}(LOW,HIGH)") from None
            space[name] = distributions[head](low, high)
        else:
            space[name] = [_parse_value(v) for v in values.split(",")]
    return space


def backtest(
    archive: Annotated[
        list[Path], typer.Option("--archive", help="Archive(s): .zarr, .nc or folder of .nc.")
    ],
    profiles: Annotated[Path, typer.Option("--profiles", help="Directory of MBA profiles.")],
    detector: Annotated[str, typer.Option("--detector", help="Registered detector name.")],
    labels_files: Annotated[
        list[Path] | None, typer.Option("--labels", help="Labels file(s): CSV or JSON.")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Fixed parameter NAME=VALUE.")
    ] = None,
    grid: Annotated[
        list[str] | None,
        typer.Option("--grid", help="Swept parameter NAME=V1,V2,... (or a distribution)."),
    ] = None,
    random: Annotated[
        int | None, typer.Option("--random", help="Random search: draw this many sets.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random search.")] = 0,
    start: Annotated[str | None, typer.Option(help="Evaluate from this time (ISO-8601).")] = None,
    end: Annotated[str | None, typer.Option(help="Evaluate until this time.")] = None,
    fit_until: Annotated[
        str | None, typer.Option(help="Fit learning detectors on history before this time.")
    ] = None,
    warmup: Annotated[
        str, typer.Option(help="History read before --start for baselines, e.g. 3D.")
    ] = "0s",
    mba: Annotated[list[str] | None, typer.Option("--mba", help="Only these MBAs.")] = None,
    sensor: Annotated[
        list[str] | None, typer.Option("--sensor", help="Only these sensors.")
    ] = None,
    early: Annotated[
        str, typer.Option(help="Detections this long before a label still count, e.g. 1h.")
    ] = "0s",
    late: Annotated[
        str, typer.Option(help="Detections this long after a label still count.")
    ] = "0s",
    workers: Annotated[
        int, typer.Option(help="Local dask workers for sweeps (0: run in this process).")
    ] = 2,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a dask scheduler, e.g. tcp://10.0.0.5:8786.")
    ] = None,
    metric: Annotated[str, typer.Option(help="Metric that picks the best run.")] = "f1",
    output: Annotated[
        Path, typer.Option("--out", help="Folder for tables, detections and plots.")
    ] = Path("backtest"),
    save_params: Annotated[
        Path | None,
        typer.Option(
            "--save-params",
            help="Write the chosen parameters into this detector settings file (vth serve).",
        ),
    ] = None,
) -> None:
    """Backtest a detector on archived history against labels, or sweep its parameters.

    Without --grid: one run with --param values; writes detections and metrics. With
    --grid: every combination (or --random N draws) runs, in parallel on a local dask
    cluster (--workers) or a scheduler (--scheduler); writes sweep.csv, sweep.parquet
    and plots. --save-params stores the run's (or the best run's) parameters for
    'vth serve --detector-params' and 'vth detect --detector-params'.
    """
    import pandas as pd

    from vth.detectors import get
    from vth.detectors.settings_file import check_detector_params
    from vth.detectors.tuning.backtest import DataSpec
    from vth.detectors.tuning.labels import read_all_labels
    from vth.detectors.tuning.metrics import MatchOptions

    try:
        get(detector)
        fixed = {k: _parse_value(v) for k, v in _pairs(param, "--param").items()}
        check_detector_params({detector: fixed}, "--param")
        space = _parse_space(grid, random is not None)
        labels = read_all_labels(labels_files or [])
        spec = DataSpec.of(
            archive,
            profiles,
            start=start,
            end=end,
            fit_until=fit_until,
            warmup=warmup,
            mba_ids=mba,
            sensors=sensor,
        )
        match = MatchOptions(early=pd.Timedelta(early), late=pd.Timedelta(late))
    except (VthError, ValueError) as exc:
        raise fail(str(exc)) from None
    output.mkdir(parents=True, exist_ok=True)
    if not space:
        _single_run(detector, fixed, spec, labels, match, output, save_params)
    else:
        _sweep(
            detector, fixed, space, random, seed, spec, labels, match, output,
            workers, scheduler, metric, save_params,
        )  # fmt: skip


def _single_run(
    detector: str,
    params: dict[str, Any],
    spec: DataSpec,
    labels: list[Label],
    match: Any,
    output: Path,
    save_params: Path | None,
) -> None:
    from vth.detectors.settings_file import save_detector_params
    from vth.detectors.tuning.sweep import SweepJob, run_one

    started = time.perf_counter()
    try:
        result, data = run_one(SweepJob(detector, params, spec, tuple(labels), match), {})
    except (VthError, TypeError, ValueError) as exc:
        raise fail(str(exc)) from None
    _write_run(result, output)
    _metrics_table(result)
    for problem in result.errors:
        err.print(f"[yellow]warning:[/] {problem}", highlight=False)
    _plot_run(result, data, output)
    if save_params is not None:
        try:
            save_detector_params(save_params, detector, params, note="set by 'vth backtest'")
        except VthError as exc:
            raise fail(str(exc)) from None
        out.print(f"parameters of {detector} saved to {save_params}", highlight=False)
    out.print(f"done in {time.perf_counter() - started:.1f} s; results in {output}/")


def _sweep(
    detector: str,
    fixed: dict[str, Any],
    space: dict[str, Any],
    random: int | None,
    seed: int,
    spec: DataSpec,
    labels: list[Label],
    match: Any,
    output: Path,
    workers: int,
    scheduler: str | None,
    metric: str,
    save_params: Path | None,
) -> None:
    from vth.detectors.settings_file import save_detector_params
    from vth.detectors.tuning.plots import plot_metric_vs_parameters
    from vth.detectors.tuning.sweep import (
        SweepJob,
        best_run,
        check_parameters,
        dask_client,
        parameter_sets,
        params_of,
        run_one,
        run_sweep,
    )

    started = time.perf_counter()
    try:
        sets = parameter_sets(space, random, seed)
        check_parameters(detector, sets, fixed)  # before a cluster starts
        job = SweepJob(detector, fixed, spec, tuple(labels), match)
        where = scheduler or (
            f"a local cluster of {workers} worker(s)" if workers else "this process"
        )
        out.print(f"{len(sets)} parameter set(s) of {detector} on {where}", highlight=False)
        with (
            dask_client(scheduler, workers) as client,
            Progress(
                TextColumn("sweep"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=False,
            ) as bar,
        ):
            task = bar.add_task("runs", total=len(sets))
            table = run_sweep(
                job, sets, client, progress=lambda done, total: bar.update(task, completed=done)
            )
    except (VthError, ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    table.to_csv(output / "sweep.csv", index=False)
    table.to_parquet(output / "sweep.parquet", index=False)
    plot_metric_vs_parameters(table, output)
    _sweep_table(table, metric)
    errors = [e for e in table["errors"] if e]
    if errors:
        err.print(f"[yellow]warning:[/] {len(errors)} run(s) had errors, e.g. {errors[0]}")
    try:
        best = best_run(table, metric)
    except ValueError as exc:
        out.print(f"no best run: {exc}", highlight=False)
        return
    chosen = {**fixed, **params_of(best)}
    out.print(
        f"best by {metric}: run {int(best['run'])} with "
        + ", ".join(f"{k}={v}" for k, v in chosen.items()),
        highlight=False,
    )
    try:  # in this process; the history is still loaded when the sweep ran here too
        result, data = run_one(job, params_of(best))
    except VthError as exc:
        raise fail(str(exc)) from None
    _write_run(result, output, prefix="best_")
    _plot_run(result, data, output, prefix="best_")
    if save_params is not None:
        note = f"best {metric} ({best[metric]:.3f}) of {len(sets)} runs by 'vth backtest'"
        try:
            save_detector_params(save_params, detector, chosen, note=note)
        except VthError as exc:
            raise fail(str(exc)) from None
        out.print(f"parameters of {detector} saved to {save_params}", highlight=False)
    out.print(f"done in {time.perf_counter() - started:.1f} s; results in {output}/")


def _write_run(result: BacktestResult, output: Path, prefix: str = "") -> None:
    import pandas as pd

    from vth.detectors.tuning.sweep import table_value

    with (output / f"{prefix}detections.jsonl").open("w", encoding="utf-8") as f:
        for d in result.detections:
            f.write(d.model_dump_json() + "\n")
    row = {"detector": result.detector, **result.params, **result.metrics.as_row()}
    pd.DataFrame([{k: table_value(v) for k, v in row.items()}]).to_csv(
        output / f"{prefix}metrics.csv", index=False
    )
    result.metrics.per_label.to_csv(output / f"{prefix}labels_scored.csv", index=False)


def _plot_run(result: BacktestResult, data: PreparedData, output: Path, prefix: str = "") -> None:
    """Time series of the sensor and variable with the most detections, over the span."""
    import numpy as np

    from vth.detectors.tuning.plots import plot_timeseries
    from vth.sensing.archive import utc_time

    counts: dict[tuple[str, str], int] = {}
    for d in result.detections:
        if d.sensor_id and d.substance:
            counts[(d.sensor_id, d.substance)] = counts.get((d.sensor_id, d.substance), 0) + 1
    if not counts:
        return
    sensor, variable = max(counts, key=lambda k: (counts[k], k))
    holding = [
        ds
        for ds in data.evaluate.values()
        if variable in ds and sensor in ds["sensor"].values.astype(str)
    ]
    if not holding:
        return
    ds = holding[0]  # the loaded history, without the warm-up before the span
    ds = ds.isel(time=np.flatnonzero(ds["time"].values >= utc_time(str(result.span[0]))))
    plot_timeseries(
        ds,
        variable,
        sensor,
        [d for d in result.detections if d.sensor_id == sensor and d.substance == variable],
        [lb for lb in result.labels if lb.sensor in (sensor, None)],
        output / f"{prefix}timeseries.png",
        title=f"{result.detector} on {sensor} {variable}: detections (red) and labels (green)",
    )


def _metrics_table(result: BacktestResult) -> None:
    m = result.metrics
    table = Table("metric", "value", title=f"backtest of {result.detector}")
    for name, value in m.as_row().items():
        table.add_row(name, _fmt(value))
    out.print(table)


def _sweep_table(table: pd.DataFrame, metric: str, top: int = 10) -> None:
    from vth.detectors.tuning.sweep import PARAM_PREFIX, ranked

    columns = [c for c in table.columns if c.startswith(PARAM_PREFIX)]
    shown = ["precision", "recall", "f1", "early_score", "false_alarms_per_sensor_month"]
    ordered = ranked(table, metric)
    view = Table("run", *(c[len(PARAM_PREFIX) :] for c in columns), *shown)
    for _, row in ordered.head(top).iterrows():
        view.add_row(
            str(row["run"]), *(_fmt(row[c]) for c in columns), *(_fmt(row[c]) for c in shown)
        )
    view.title = f"best {min(top, len(table))} of {len(table)} runs by {metric}"
    out.print(view)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.3g}"
    return str(value)
