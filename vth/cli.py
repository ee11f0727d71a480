"""The ``vth`` command line: serve, demo, detect, compliance and profile validation."""

from __future__ import annotations

import logging
import shutil
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from vth.cli_common import err, out
from vth.cli_common import fail as _fail
from vth.errors import VthError
from vth.models import (
    Alert,
    Detection,
    FieldProblem,
    MbaProfile,
    ProfileError,
    SensorNetwork,
    load_profiles,
)

if TYPE_CHECKING:
    import xarray as xr

    from vth.settings import Settings

app = typer.Typer(
    name="vth",
    help="vth-sensing: watch sensor streams and images against MBA permits and alert inspectors.",
    no_args_is_help=True,
    add_completion=False,
)
profiles_app = typer.Typer(help="Work with MBA profiles.", no_args_is_help=True)
app.add_typer(profiles_app, name="profiles")

ProfilesOption = Annotated[Path, typer.Option("--profiles", help="Directory of MBA profiles.")]
DataOption = Annotated[
    list[Path], typer.Option("--data", help="Stream file(s): netCDF, Zarr or long CSV.")
]
InputOption = Annotated[
    list[Path],
    typer.Option(
        "--data",
        help=(
            "Input file(s): streams (netCDF, Zarr, long CSV) and images (GeoTIFF, STAC Item "
            "JSON, or a folder of them)."
        ),
    ),
]


@profiles_app.command("validate")
def profiles_validate(
    directory: Annotated[
        Path, typer.Argument(help="Directory of profile YAML files (or one file).")
    ],
) -> None:
    """Check every profile (and network file in DIR/networks); list each invalid field."""
    from vth.models import load_networks

    networks_dir = directory / "networks"
    try:
        problems: list[FieldProblem] = []
        try:
            profiles = load_profiles(directory)
        except ProfileError as exc:
            problems.extend(exc.problems)
        try:
            networks = load_networks(networks_dir) if networks_dir.is_dir() else {}
        except ProfileError as exc:
            problems.extend(exc.problems)
        if problems:
            raise ProfileError(problems)
    except ProfileError as exc:
        err.print(f"[bold red]{len(exc.problems)} problem(s) found:[/]")
        for problem in exc.problems:
            err.print(f"  [red]✗[/] {problem}", highlight=False)
        raise typer.Exit(1) from None
    table = Table(title=f"{len(profiles)} valid MBA profile(s) in {directory}")
    for column in ("id", "name", "activity", "sources", "limits", "sensors"):
        table.add_column(column)
    for p in profiles.values():
        n_limits = sum(len(s.limits) for s in p.sources)
        table.add_row(
            p.id, p.name, p.activity, str(len(p.sources)), str(n_limits), str(len(p.sensors))
        )
    out.print(table)
    for network in networks.values():
        kinds = [s.kind for s in network.sensors]
        out.print(
            f"network {network.id}: {kinds.count('enose')} e-noses, "
            f"{kinds.count('weather')} weather stations ({network.operator})"
        )


@app.command()
def detect(
    profiles: ProfilesOption,
    data: InputOption,
    alerts_out: Annotated[
        Path, typer.Option("--out", help="JSON-lines file of alerts ('-': stdout).")
    ] = Path("alerts.jsonl"),
    detector: Annotated[
        list[str] | None,
        typer.Option(
            "--detector",
            help="Detector name(s); by default all stream detectors and sensor quality control.",
        ),
    ] = None,
    history: Annotated[
        list[Path] | None,
        typer.Option(
            "--history",
            help="Earlier stream file(s) of the same sensors to fit detectors on (e.g. enose).",
        ),
    ] = None,
    reference: Annotated[
        list[Path] | None,
        typer.Option(
            "--reference",
            help=(
                "Plume-free image(s) of the same areas on another date: methane then uses "
                "the multi-pass retrieval (MBMP)."
            ),
        ),
    ] = None,
    local_crs: Annotated[
        str, typer.Option("--local-crs", help="Grid images are reprojected to.")
    ] = "EPSG:28992",
    detector_params: Annotated[
        Path | None,
        typer.Option(
            "--detector-params",
            help=(
                "YAML file of detector parameters (e.g. from 'vth backtest --save-params'); "
                "detectors named there also run."
            ),
        ),
    ] = None,
) -> None:
    """Run the detectors over stream and image files and write the alerts as JSON lines.

    MBA detectors run per MBA with its profile; network detectors (quality, enose) run
    on the e-noses and weather stations of all MBAs and of the sensor networks in
    PROFILES/networks together; image detectors (heat, methane) run on the part of
    each image around each MBA. What images show within the permit (a permitted flare,
    a plume below the permitted rate) is listed as recorded, not alerted. An image that
    cannot be read is reported and skipped; the others are still judged.
    """
    from vth.detectors import get
    from vth.detectors.settings_file import load_detector_params
    from vth.gateways.rasters import is_raster_path
    from vth.models import load_networks, network_of
    from vth.pipeline import (
        network_dataset,
        network_detectors,
        run_detectors,
        run_network_detectors,
        stream_detectors,
    )

    rasters = [p for p in data if is_raster_path(p) or _is_raster_folder(p)]
    data = [p for p in data if p not in rasters]
    records: list[Detection] = []
    unreadable: list[str] = []
    try:
        profile_map = load_profiles(profiles)
        networks = load_networks(profiles / "networks") if (profiles / "networks").is_dir() else {}
        params = load_detector_params(detector_params) if detector_params else {}
        mba_detectors = stream_detectors(detector, params)
        default_network = [
            "quality",
            *(n for n in params if n != "quality" and get(n).scope == "network"),
        ]
        net_detectors = network_detectors(
            detector if detector is not None else default_network, params
        )
        alerts: list[Alert] = []
        streams = list(_streams_with_profiles(data, profile_map, networks))  # read once
        for _path, mba_id, dataset in streams:
            if mba_id in profile_map:
                alerts.extend(run_detectors(dataset, profile_map[mba_id], mba_detectors))
        if net_detectors:
            registers: dict[str, MbaProfile | SensorNetwork] = {**profile_map, **networks}
            network = network_of(profile_map, networks)
            merged = network_dataset(_groups(streams), registers)
            unfitted = [d for d in net_detectors if d.requires_fit]
            if unfitted and not history:
                names = ", ".join(d.name for d in unfitted)
                raise _fail(
                    f"detector(s) {names} must be fitted on history: give --history with "
                    "earlier stream files of the same sensors"
                )
            if unfitted and history:
                past_streams = _streams_with_profiles(history, profile_map, networks)
                past = network_dataset(_groups(past_streams), registers)
                for d in unfitted:
                    d.fit(past, network)
            alerts.extend(run_network_detectors(merged, network, net_detectors))
        if rasters:
            image_alerts, records, unreadable = _detect_images(
                rasters, reference or [], profile_map, _groups(streams), detector, local_crs, params
            )
            alerts.extend(image_alerts)
    except VthError as exc:  # profiles, stream files, detectors: the message says what and where
        raise _fail(str(exc)) from None
    _write_output(alerts_out, "".join(a.model_dump_json() + "\n" for a in alerts))
    console = err if str(alerts_out) == "-" else out
    _alert_table(alerts, console=console)
    if records:
        _record_table(records, console)
    if str(alerts_out) != "-":
        out.print(f"{len(alerts)} alert(s) written to {alerts_out}")
    if unreadable:
        for problem in unreadable:
            err.print(f"[bold red]error:[/] {problem}", highlight=False)
        raise typer.Exit(1)


def _is_raster_folder(path: Path) -> bool:
    from vth.gateways.rasters import is_raster_path

    return (
        path.is_dir() and path.suffix != ".zarr" and any(is_raster_path(p) for p in path.iterdir())
    )


def _raster_files(paths: list[Path]) -> list[Path]:
    from vth.gateways.rasters import is_raster_path

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if is_raster_path(p)))
        else:
            files.append(path)
    return files


def _detect_images(
    paths: list[Path],
    references: list[Path],
    profile_map: dict[str, MbaProfile],
    streams: dict[str, xr.Dataset],
    selected: list[str] | None,
    local_crs: str,
    params: dict[str, dict[str, object]] | None = None,
) -> tuple[list[Alert], list[Detection], list[str]]:
    """Alerts, records and unreadable-file problems of the image files."""
    from vth.gateways.errors import RasterDecodeError
    from vth.gateways.rasters import RasterOptions, read_raster_file
    from vth.raster_pipeline import mba_regions, raster_detectors, run_raster_detectors

    detectors = raster_detectors(selected, params)
    regions = mba_regions(profile_map)
    options = RasterOptions(crs=local_crs)
    refs: dict[str, xr.DataArray] = {}
    for path in _raster_files(references):
        refs.update(read_raster_file(path, regions, options))  # an unreadable reference: fail
    alerts: list[Alert] = []
    records: list[Detection] = []
    problems: list[str] = []
    for path in _raster_files(paths):
        try:
            scenes = read_raster_file(path, regions, options)
        except RasterDecodeError as exc:
            problems.append(f"{path}: {exc}" if str(path) not in str(exc) else str(exc))
            continue
        if not scenes:
            err.print(f"[yellow]warning:[/] {path}: covers none of the MBAs; skipped")
        for mba_id, scene in scenes.items():
            ref = refs.get(mba_id)
            outcome = run_raster_detectors(
                scene,
                profile_map[mba_id],
                detectors,
                references={"methane": ref} if ref is not None else None,
                streams=streams.get(mba_id),
            )
            alerts.extend(outcome.alerts)
            records.extend(outcome.records)
            problems.extend(f"{path}: {e}" for e in outcome.errors)
    return alerts, records, problems


def _record_table(records: list[Detection], console: Console) -> None:
    table = Table(title=f"{len(records)} finding(s) within the permit (recorded, not alerted)")
    for column in ("time (UTC)", "MBA", "kind", "source", "value", "limit", "unit", "reason"):
        table.add_column(column)
    for r in records[:50]:
        table.add_row(
            f"{r.start:%Y-%m-%d %H:%M}",
            r.mba_id,
            r.kind,
            r.source_id or "-",
            f"{r.value:.4g}" if r.value is not None else "-",
            f"{r.limit:.4g}" if r.limit is not None else "-",
            r.unit or "-",
            str(r.evidence.get("reason", "")),
        )
    console.print(table)


def _groups(streams: Iterable[tuple[Path, str, xr.Dataset]]) -> dict[str, xr.Dataset]:
    """Per MBA or network, its streams from all files joined along time."""
    import xarray as xr

    parts: dict[str, list[xr.Dataset]] = {}
    for _path, group, dataset in streams:
        parts.setdefault(group, []).append(dataset)
    return {
        g: ds[0] if len(ds) == 1 else xr.concat(ds, dim="time", join="outer").sortby("time")
        for g, ds in parts.items()
    }


@app.command()
def compliance(
    profiles: ProfilesOption,
    data: DataOption,
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            help="2026, 2026-01, 2026-01-15 or START/END (UTC); default: the data's days.",
        ),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON ('-': stdout).")
    ] = None,
    mba: Annotated[list[str] | None, typer.Option("--mba", help="Only these MBA id(s).")] = None,
) -> None:
    """Judge every emission limit over a period and print the compliance report."""
    from vth.detectors.compliance.period import ReportPeriod
    from vth.detectors.compliance.report import compliance_report
    from vth.detectors.compliance.table import reason_lines, report_table

    try:
        profile_map = load_profiles(profiles)
        datasets = {}
        for path, mba_id, dataset in _streams_with_profiles(data, profile_map):
            if mba is not None and mba_id not in mba:
                continue
            if mba_id in datasets:
                raise _fail(f"{path}: MBA {mba_id!r} is also in another --data file")
            datasets[mba_id] = dataset
        report = compliance_report(
            datasets, profile_map, ReportPeriod.parse(period) if period else None
        )
    except VthError as exc:
        raise _fail(str(exc)) from None
    console = err if json_out is not None and str(json_out) == "-" else out
    console.print(report_table(report))
    for line in reason_lines(report):
        console.print(f"  • {line}", highlight=False)
    if json_out is not None:
        _write_output(json_out, report.model_dump_json(indent=2) + "\n")
        if str(json_out) != "-":
            out.print(f"report written to {json_out}")
    console.print(f"overall: {report.verdict}", highlight=False)
    if report.errors:
        raise _fail(f"{len(report.errors)} limit(s) could not be evaluated; see the reasons")


def _write_output(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, or to stdout when the path is ``-``."""
    if str(path) == "-":
        sys.stdout.write(text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _streams_with_profiles(
    data: list[Path],
    profiles: dict[str, MbaProfile],
    networks: dict[str, SensorNetwork] | None = None,
) -> Iterator[tuple[Path, str, xr.Dataset]]:
    """``(file, group, dataset)`` of each MBA (or sensor network) in the stream files.

    Groups without a profile or network file get a warning and are skipped.
    """
    from vth.sensing.io import open_streams

    known = set(profiles) | set(networks or {})
    for path in data:
        for mba_id, dataset in open_streams(path).items():
            if mba_id not in known:
                err.print(
                    f"[yellow]warning:[/] {path}: no profile for MBA {mba_id!r}; "
                    "its sensors are skipped"
                )
                continue
            yield path, mba_id, dataset


@app.command("detectors")
def list_detectors() -> None:
    """List the registered detectors and what they are for."""
    from vth.detectors import get, names

    table = Table(title="Registered detectors")
    for column in ("name", "kind", "technology", "inputs", "detection limit"):
        table.add_column(column)
    for name in names():
        cls = get(name)
        table.add_row(
            name,
            cls.kind,
            ", ".join(cls.technologies),
            ", ".join(cls.inputs),
            cls.detection_limit,
        )
    out.print(table)


@app.command()
def serve(
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML settings file (VTH_* env vars win).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="API address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="API port (default from settings).")] = None,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "info",
    detector_params: Annotated[
        Path | None,
        typer.Option(
            "--detector-params",
            help="YAML file of detector parameters (e.g. from 'vth backtest --save-params').",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Check settings, profiles and detectors, list them, and exit."
        ),
    ] = False,
) -> None:
    """Run the API, the MQTT gateway and the detection loop."""
    import uvicorn

    from vth.api.app import access_control
    from vth.hosts import is_loopback
    from vth.runtime import Service
    from vth.settings import load_settings

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    overrides = {"detector_params_file": detector_params} if detector_params else {}
    try:
        settings = load_settings(config, **overrides)
        if check:
            _check_serve(settings)
            return
        api_host = host or settings.api_host
        if not access_control(settings).enabled and not is_loopback(api_host):
            raise _fail(
                f"refusing to serve an open API on {api_host}: set VTH_API_KEYS_FILE "
                "(make keys with 'vth keys new'), or listen on 127.0.0.1"
            )
        service = Service(settings)
    except (VthError, ValueError) as exc:
        raise _fail(str(exc)) from None
    uvicorn.run(
        service.create_app(),
        host=api_host,
        port=port if port is not None else settings.api_port,
        log_level=log_level.lower(),
    )


def _check_serve(settings: Settings) -> None:
    """Print what ``vth serve`` would run with ``settings``; raises on any problem."""
    from vth.detectors.settings_file import load_detector_params
    from vth.pipeline import history_warnings, network_detectors, stream_detectors
    from vth.raster_pipeline import raster_detectors

    profile_map = load_profiles(settings.profiles_dir)
    params = (
        load_detector_params(settings.detector_params_file)
        if settings.detector_params_file is not None
        else {}
    )
    table = Table("detector", "scope", "parameters set", title="vth serve would run")
    detectors = [
        *stream_detectors(None, params),
        *network_detectors(None, params),
        *raster_detectors(None, params),
    ]
    for d in detectors:
        given = params.get(d.name, {})
        table.add_row(
            d.name, d.scope, ", ".join(f"{k}={v}" for k, v in given.items()) or "defaults"
        )
    out.print(table)
    for warning in history_warnings(detectors, settings.buffer_retention_h):
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    out.print(
        f"{len(profile_map)} profile(s) in {settings.profiles_dir}; "
        f"detector settings: {settings.detector_params_file or 'none'}"
    )
    _check_mqtt(settings)
    _check_workflow(settings)


def _check_mqtt(settings: Settings) -> None:
    """Print the broker, login and TLS files the gateway would use; never the password."""
    from vth.hosts import is_tls_broker_url

    url = settings.broker_url
    if not url:
        out.print(f"MQTT: embedded broker on port {settings.embedded_broker_port}", highlight=False)
        return
    login = (
        f"user {settings.mqtt_username}, password: "
        + ("set" if settings.mqtt_password is not None else "not set")
        if settings.mqtt_username is not None
        else "anonymous"
    )
    out.print(f"MQTT: broker {url}; {login}", highlight=False, soft_wrap=True)
    if is_tls_broker_url(url):
        ca = settings.mqtt_ca_file or "the system's CA certificates"
        client = (
            f"client certificate {settings.mqtt_cert_file} (key {settings.mqtt_key_file})"
            if settings.mqtt_cert_file is not None
            else "no client certificate"
        )
        out.print(
            f"MQTT TLS: broker certificate checked against {ca} (host name verified); {client}",
            highlight=False,
            soft_wrap=True,
        )


def _check_workflow(settings: Settings) -> None:
    """Print the access control, forwarding and inventory ``vth serve`` would run with."""
    from vth.api.app import access_control
    from vth.api.workflow_config import load_workflow_config
    from vth.inventory.catalogue import load_catalogue

    access = access_control(settings)
    workflow = load_workflow_config(settings.workflow_file)
    catalogue = load_catalogue(settings.inventory_file)
    policy = workflow.policy()
    out.print(
        f"access: {'API keys from ' + str(settings.api_keys_file) if access.enabled else 'open'}"
        f"; incidents group alerts within {policy.quiet_period_s:g} s"
    )
    for name, trigger in sorted(policy.targets.items()):
        when = "every new incident" if trigger == "new" else "when an inspector forwards"
        out.print(f"forwarding to {name}: {when}")
    out.print(
        f"inventory: {len(catalogue.technologies)} technologies from "
        f"{settings.inventory_file or 'the shipped catalogue'}"
    )


@app.command()
def demo(
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: Ctrl-C).")
    ] = None,
    exit_after_alerts: Annotated[
        int | None, typer.Option(help="Stop with success once this many alerts are stored.")
    ] = None,
    port: Annotated[int, typer.Option(help="API port; a free one is used when taken.")] = 8000,
    workdir: Annotated[
        Path, typer.Option(help="Where the demo keeps its database and logs.")
    ] = Path("var/demo"),
    screenshot: Annotated[
        Path | None,
        typer.Option(
            help=(
                "Save a PNG of the inspector's page (headless Chromium) once the demo "
                "stops, e.g. with --exit-after-alerts or --duration."
            )
        ),
    ] = None,
) -> None:
    """Serve on embedded defaults with a simulator publishing SenML, and show the alerts.

    The inspector's page is at http://127.0.0.1:PORT/ui/ while it runs.
    """
    import uvicorn

    from vth.demo.network import (
        NETWORK_KINDS,
        demo_network,
        fitted_enose_detector,
        run_network_simulation,
    )
    from vth.demo.rasters import publish_images
    from vth.demo.simulator import StreamSimulator, demo_peaks, run_simulation
    from vth.detectors.quality import QualityDetector
    from vth.gateways.broker import free_port, port_is_free
    from vth.models import load_networks
    from vth.runtime import Service
    from vth.settings import Settings

    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    profiles_dir = Path(__file__).resolve().parent.parent / "examples" / "profiles"
    if not profiles_dir.is_dir():
        profiles_dir = Path("examples/profiles")
    api_port = port if port and port_is_free("127.0.0.1", port) else free_port()  # 0: any free
    settings = Settings(
        profiles_dir=profiles_dir,
        database_url=f"sqlite:///{workdir / 'vth.db'}",
        broker_url=None,
        quarantine_path=workdir / "quarantine.jsonl",
        journal_path=workdir / "journal.jsonl",
        raster_spool_dir=workdir / "rasters",
        records_path=workdir / "records.jsonl",
        detect_interval_s=2.0,
        api_port=api_port,
        mqtt_client_id="vth-demo-gateway",
    )
    profile_map = load_profiles(profiles_dir)
    networks = load_networks(profiles_dir / "networks")
    now = datetime.now(UTC)
    network_demo = demo_network(profile_map, networks, now)
    service = Service(
        settings,
        profiles=profile_map,
        networks=networks,
        network_detectors=[QualityDetector(), fitted_enose_detector(network_demo)],
    )
    server = uvicorn.Server(
        uvicorn.Config(service.create_app(), host="127.0.0.1", port=api_port, log_level="warning")
    )
    server_thread = threading.Thread(target=server.run, name="vth-api", daemon=True)
    server_thread.start()
    deadline = time.monotonic() + 30
    while not server.started and server_thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    if not server.started:
        raise _fail("the API did not start; see the log above")
    base = f"http://127.0.0.1:{api_port}"
    out.rule("[bold]vth-sensing demo")
    out.print(f"MQTT broker (embedded): {service.broker_url}   topics: {settings.topic_template}")
    out.print(f"Inspector's page: {base}/ui/")
    out.print(f"Alerts:  {base}/alerts     API docs: {base}/docs     Health: {base}/health")
    out.print(f"Quarantine of bad messages: {settings.quarantine_path}")
    n_sensors = network_demo.dataset.sizes["sensor"]
    out.print(
        f"Publishing 3 h of simulated SenML for {len(profile_map)} MBAs with injected peaks, and "
        f"4 h of {n_sensors} e-noses and weather stations with a gas release; then a thermal "
        f"image of chemie-botlek and Sentinel-2 images of tankopslag-europoort on "
        f"{settings.raster_topic_template}. Ctrl-C stops.\n"
    )
    stop = threading.Event()
    simulator = StreamSimulator(
        service.profiles, service.topics, demo_peaks(now), skip_kinds=NETWORK_KINDS
    )
    sim_threads = [
        threading.Thread(
            target=run_simulation,
            args=(simulator, service.broker_url, stop),
            name="vth-simulator",
            daemon=True,
        ),
        threading.Thread(
            target=run_network_simulation,
            args=(network_demo, service.topics, service.broker_url, stop),
            name="vth-network-simulator",
            daemon=True,
        ),
        threading.Thread(
            target=publish_images,
            args=(
                profile_map,
                now,
                workdir / "stac",
                service.broker_url,
                service.raster_ingestor.topic,
                stop,
            ),
            name="vth-image-publisher",
            daemon=True,
        ),
    ]
    for thread in sim_threads:
        thread.start()
    shown: set[str] = set()
    started = time.monotonic()
    code = 0
    try:
        while True:
            fresh = [a for a in service.store.list(limit=1000) if a.id not in shown]
            for alert in sorted(fresh, key=lambda a: a.start):
                shown.add(alert.id)
                _print_alert(alert, base)
            if exit_after_alerts is not None and len(shown) >= exit_after_alerts:
                break
            if duration is not None and time.monotonic() - started > duration:
                if exit_after_alerts is not None:
                    err.print(f"[red]only {len(shown)} alert(s) after {duration:.0f} s[/]")
                    code = 1
                break
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for thread in sim_threads:
            thread.join(10)
        if screenshot is not None:
            code = _save_screenshot(base, screenshot) or code
        server.should_exit = True
        server_thread.join(30)
    stats = service.ingestor.stats
    incidents = len(service.store.incidents(limit=1000))
    out.print(
        f"\n{stats.messages} messages, {stats.readings} readings, {stats.quarantined} quarantined, "
        f"{len(shown)} alert(s) in {incidents} incident(s) ({base}/incidents)."
    )
    raise typer.Exit(code)


def _save_screenshot(base: str, path: Path) -> int:
    """Save the page with the newest alert opened; 1 (and why) when it cannot be taken."""
    from rich.markup import escape

    from vth.demo.screenshot import ScreenshotError, take_screenshot

    try:
        take_screenshot(f"{base}/ui/", path, select="#alert-list tbody tr[data-alert-id]")
    except ScreenshotError as exc:
        err.print(f"[red]{escape(str(exc))}[/]", highlight=False)
        return 1
    out.print(f"screenshot of the inspector's page: {path}")
    return 0


def _print_alert(alert: Alert, base: str) -> None:
    link = f"-> {base}/alerts/{alert.id}"
    if alert.incident_id not in (None, alert.id):
        link = f"(repeat: joins incident {alert.incident_id}) {link}"
    when = f"from {alert.start:%Y-%m-%d %H:%M} to {alert.end:%H:%M} UTC"
    if alert.kind == "gas_incident":
        responding = alert.evidence.get("responding", [])
        top = alert.candidates[0] if alert.candidates else None
        source = (
            f"likely source {top.mba_id}/{top.source_id} (score {top.score:.2f})"
            if top is not None
            else "source unknown"
        )
        out.print(
            f"[bold red]ALERT[/] gas_incident: {len(responding)} e-noses {when}, {source}, "
            f"severity {alert.severity}  {link}",
            highlight=False,
        )
        return
    if alert.kind in ("heat_anomaly", "methane_plume"):
        out.print(
            f"[bold red]ALERT[/] {alert.kind} {alert.mba_id}"
            f"{'/' + alert.source_id if alert.source_id else ''}: "
            f"{alert.evidence.get('reason', '')} "
            f"({alert.evidence.get('scene', {}).get('platform', '?')} "
            f"{alert.start:%Y-%m-%d %H:%M} UTC), severity {alert.severity}  {link}",
            highlight=False,
        )
        return
    if alert.kind == "sensor_fault":
        out.print(
            f"[bold yellow]ALERT[/] sensor_fault {alert.mba_id}/{alert.sensor_id}: "
            f"{alert.evidence.get('fault', '?')} {when}  {link}",
            highlight=False,
        )
        return
    value = f"{alert.value:.3g}" if alert.value is not None else "-"
    limit = f"{alert.limit:.3g}" if alert.limit is not None else "-"
    out.print(
        f"[bold red]ALERT[/] {alert.kind} {alert.mba_id}/{alert.source_id} {alert.substance} "
        f"{value} > {limit} {alert.unit} from {alert.start:%Y-%m-%d %H:%M} "
        f"to {alert.end:%H:%M} UTC, severity {alert.severity}, "
        f"LHSO consequence {alert.lhso.consequence}  {link}",
        highlight=False,
    )


def _alert_table(alerts: list[Alert], console: Console) -> None:
    if not alerts:
        console.print("no alerts")
        return
    table = Table(title=f"{len(alerts)} alert(s)")
    for column in (
        "start (UTC)",
        "end",
        "kind",
        "MBA",
        "source",
        "substance",
        "value",
        "limit",
        "unit",
        "severity",
    ):
        table.add_column(column)
    for a in alerts[:50]:
        table.add_row(
            f"{a.start:%Y-%m-%d %H:%M}",
            f"{a.end:%Y-%m-%d %H:%M}",
            a.kind,
            a.mba_id,
            a.source_id or "-",
            a.substance or "-",
            f"{a.value:.4g}" if a.value is not None else "-",
            f"{a.limit:.4g}" if a.limit is not None else "-",
            a.unit or "-",
            a.severity,
        )
    if len(alerts) > 50:
        table.caption = f"first 50 of {len(alerts)}"
    console.print(table)


from vth.cli_inventory import inventory as _inventory  # noqa: E402
from vth.cli_keys import keys_app  # noqa: E402 - commands of their own module
from vth.cli_tuning import archive_app, labels_app  # noqa: E402 - commands of their own module
from vth.cli_tuning import backtest as _backtest  # noqa: E402

app.add_typer(archive_app, name="archive")
app.add_typer(keys_app, name="keys")
app.add_typer(labels_app, name="labels")
app.command("backtest")(_backtest)
app.command("inventory")(_inventory)


if __name__ == "__main__":  # pragma: no cover
    app()
