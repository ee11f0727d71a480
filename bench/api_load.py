"""Load on the alert API: ``wrk`` against a real uvicorn serving the real app.

One uvicorn worker (uvloop, httptools, no access log) serves the app built from settings
(:func:`vth.api.app.create_app_from_settings`) on a fresh SQLite file, the example
profiles and a keys file, so access control is on as in production. ``wrk`` then loads
it at 32 connections with the Lua scripts of ``bench/wrk``:

1. ``POST /alerts`` with a gateway key, every request a new alert (its own id, its
   own incident); afterwards the store must hold one alert, one audit event and one
   incident per ``201 Created`` that wrk counted.
2. ``GET /alerts?limit=50`` with an inspector key of DCMR (the agency of the examples).
3. ``GET /alerts/{id}`` over ids of stored alerts.

The peer is a bare FastAPI route on the same server: the ceiling of the stack (uvicorn,
Starlette routing, FastAPI's threadpool) without any work of the service.

Run alone with ``python -m bench.api_load``.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent / "wrk"

#: A benchmark row: what, vth-sensing figure, peer figure or "-", DESIGN.md target.
Row = tuple[str, str, str, str]

CONNECTIONS = 32
THREADS = 2
#: Seconds of load per measurement.
DURATION_S = 8
#: Seconds of load on the bare route (the peer).
PEER_DURATION_S = 5
#: Seconds to wait for the server to answer /health.
STARTUP_TIMEOUT_S = 30.0

TARGET = ">= 5k POST/s, p99 < 10 ms at 32 connections, one worker"
WHAT_POST = (
    "alert API: POST /alerts, a new alert each (SQLite file, API keys on), "
    "32 connections, 1 uvicorn worker (uvloop, httptools)"
)
WHAT_LIST = "alert API: GET /alerts?limit=50 (inspector of DCMR), same server, after the POSTs"
WHAT_GET = "alert API: GET /alerts/{id} (inspector of DCMR), same server"
#: Path of the bare route the bench app adds (the peer).
HELLO_PATH = "/bench/hello"


def bench_app() -> FastAPI:
    """The service's API as ``vth serve`` builds it from ``VTH_*`` settings, plus a bare route.

    The uvicorn factory of the bench (``uvicorn --factory bench.api_load:bench_app``).
    ``GET /bench/hello`` returns a constant through FastAPI with nothing of the service
    (no key, no store): the ceiling of the stack. It is a plain ``def`` like the alert
    routes, so it too runs in the threadpool.
    """
    from vth.api.app import create_app_from_settings
    from vth.settings import Settings

    app = create_app_from_settings(Settings())

    @app.get(HELLO_PATH, include_in_schema=False)
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run reported.

    Parameters
    ----------
    requests
        Answers received.
    rate
        Requests per second.
    p99_ms
        99th percentile latency, milliseconds.
    ok
        Answers the Lua script counted as the expected status (201 for POST, 2xx else).
    unexpected
        Answers of any other status.
    socket_errors
        Connect, read, write errors and timeouts.
    issued
        Requests the Lua script made (POST only; else 0): those in flight when wrk
        stopped were not answered in time to be counted, but the server may have done them.
    statuses
        Unexpected statuses seen (a sample), for the row.
    """

    requests: int
    rate: float
    p99_ms: float
    ok: int
    unexpected: int
    socket_errors: int
    issued: int = 0
    statuses: str = ""

    @property
    def errors(self) -> int:
        """Unexpected answers and socket errors together."""
        return self.unexpected + self.socket_errors

    def figure(self) -> str:
        """``1.9 k req/s, p99 28 ms`` for the table."""
        return f"{_rate(self.rate)} req/s, p99 {_ms(self.p99_ms)}"

    def error_note(self) -> str:
        """``0 errors`` or what went wrong."""
        if not self.errors:
            return "0 errors"
        parts = []
        if self.unexpected:
            seen = " ".join(sorted(set(self.statuses.split())))
            parts.append(f"{self.unexpected} unexpected answers" + (f" ({seen})" if seen else ""))
        if self.socket_errors:
            parts.append(f"{self.socket_errors} socket errors")
        return "ERRORS: " + ", ".join(parts)


def api_rows() -> list[Row]:
    """Load the alert API with wrk; the rows for ``make bench``.

    Never raises: when wrk is missing or a measurement fails, its row says so.

    Returns
    -------
    list of tuple of str
        Rows (what, vth-sensing figure, peer figure or "-", DESIGN.md target): POST,
        list and read one.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        return _unmeasured("wrk not installed (apt-get install wrk)")
    try:
        return _measure(wrk)
    except Exception as exc:  # the bench goes on; the rows say why
        return _unmeasured(f"{type(exc).__name__}: {exc}")


def _unmeasured(reason: str) -> list[Row]:
    figure = f"not measured: {reason}"
    return [
        (WHAT_POST, figure, "-", TARGET),
        (WHAT_LIST, figure, "-", "-"),
        (WHAT_GET, figure, "-", "-"),
    ]


def _measure(wrk: str) -> list[Row]:
    """Start the server, run the four loads, and make the rows."""
    with tempfile.TemporaryDirectory(prefix="vth-bench-api-") as tmp:
        work = Path(tmp)
        gateway_key, inspector_key = _write_keys(work / "keys.yaml")
        database = work / "vth.db"
        with _server(work, database) as url:
            post = _wrk(
                wrk,
                url + "/alerts",
                "post_alerts.lua",
                gateway_key,
                DURATION_S,
                args=["bench", str(THREADS)],
            )
            stored = _stored(database)
            ids = work / "ids.txt"
            ids.write_text("\n".join(stored.sample_ids) + "\n", encoding="utf-8")
            listing = _attempt(
                lambda: _wrk(wrk, url + "/alerts?limit=50", "count.lua", inspector_key, DURATION_S)
            )
            one = _attempt(
                lambda: _wrk(
                    wrk,
                    url + "/alerts",
                    "get_alert.lua",
                    inspector_key,
                    DURATION_S,
                    args=[str(ids)],
                )
            )
            hello = _attempt(
                lambda: _wrk(wrk, url + HELLO_PATH, "count.lua", None, PEER_DURATION_S)
            )
    what_list = WHAT_LIST.replace("after the POSTs", f"{_count(stored.alerts)} alerts stored")
    if isinstance(hello, str):
        peer, ratio = f"bare FastAPI route not measured: {hello}", None
    else:
        peer, ratio = f"same uvicorn, a bare FastAPI route: {hello.figure()}", hello.rate
        if hello.errors:
            peer += f" ({hello.error_note()})"
    return [
        (
            WHAT_POST,
            f"{post.figure()} ({post.error_note()}; {_check_stored(post, stored)})",
            peer + (f" (x{post.rate / ratio:.2f})" if ratio else ""),
            TARGET,
        ),
        _row(what_list, listing, ratio),
        _row(WHAT_GET, one, ratio),
    ]


def _attempt(run: Callable[[], WrkResult]) -> WrkResult | str:
    """The result of a wrk run, or why there is none."""
    try:
        return run()
    except Exception as exc:  # one row says so; the others stand
        return f"{type(exc).__name__}: {exc}"


def _row(what: str, result: WrkResult | str, peer_rate: float | None) -> Row:
    """A GET row, next to the bare route's rate when there is one."""
    if isinstance(result, str):
        return (what, f"not measured: {result}", "-", "-")
    peer = f"x{result.rate / peer_rate:.2f} of the bare route" if peer_rate else "-"
    return (what, f"{result.figure()} ({result.error_note()})", peer, "-")


def _check_stored(post: WrkResult, stored: Stored) -> str:
    """Whether the store holds what the POSTs made: ``stored 19 k of 19 k``.

    One alert, audit event and incident per ``201 Created`` wrk counted, plus at most
    the requests it had sent and not seen answered when it stopped.
    """
    in_flight = stored.alerts - post.ok
    consistent = stored.alerts == stored.events == stored.incidents
    if consistent and 0 <= in_flight <= post.issued - post.ok - post.unexpected:
        check = f"stored {_count(stored.alerts)} of {_count(post.ok)}"
        if in_flight:
            check += f" + {in_flight} in flight at the stop"
        return check
    return (
        f"MISMATCH: wrk counted {post.ok} created of {post.issued} sent; the store holds "
        f"{stored.alerts} alerts, {stored.events} audit events, {stored.incidents} incidents"
    )


def _write_keys(path: Path) -> tuple[str, str]:
    """A keys file with a gateway and a DCMR inspector key; returns (gateway, inspector)."""
    import yaml

    from vth.api.auth import ApiKey, digest, new_key

    gateway, inspector = new_key(), new_key()
    entries = [
        ApiKey(name=name, role=role, agency="DCMR", key_sha256=digest(key)).model_dump(
            exclude_none=True
        )
        for name, role, key in (
            ("bench-gateway", "gateway", gateway),
            ("bench-inspector", "inspector", inspector),
        )
    ]
    path.write_text(yaml.safe_dump({"keys": entries}, sort_keys=False), encoding="utf-8")
    return gateway, inspector


@contextmanager
def _server(work: Path, database: Path) -> Iterator[str]:
    """uvicorn serving :func:`bench_app` on a free loopback port; yields its base URL."""
    from vth.gateways.broker import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VTH_")}
    env.update(
        VTH_DATABASE_URL=f"sqlite:///{database}",
        VTH_PROFILES_DIR=str(ROOT / "examples" / "profiles"),
        VTH_API_KEYS_FILE=str(work / "keys.yaml"),
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
    )
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "bench.api_load:bench_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    log_path = work / "uvicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log_path)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until ``/health`` answers ok; raise with the server's log when it does not."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited ({process.returncode}): {_tail(log)}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                if answer.status == 200 and b'"status":"ok"' in answer.read():
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"uvicorn did not get healthy in {STARTUP_TIMEOUT_S:.0f} s: {_tail(log)}")


def _tail(log: Path, lines: int = 5) -> str:
    text = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return " | ".join(text[-lines:]) or "(no output)"


def _wrk(
    wrk: str,
    url: str,
    script: str,
    key: str | None,
    duration_s: int,
    *,
    args: list[str] | None = None,
) -> WrkResult:
    """Run wrk at :data:`CONNECTIONS` connections with a script of ``bench/wrk``."""
    command = [
        wrk,
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{duration_s}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(SCRIPTS / script),
    ]
    if key is not None:
        command += ["-H", f"Authorization: Bearer {key}"]
    command.append(url)
    if args:
        command += ["--", *args]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + 30, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    return parse_wrk(done.stdout)


_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse_wrk(output: str) -> WrkResult:
    """Read a ``wrk --latency`` report with the counts our Lua scripts print.

    Raises
    ------
    ValueError
        When a figure is missing.
    """
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m|h)\b", output, re.M)
    requests = re.search(r"^\s+(\d+) requests in", output, re.M)
    if rate is None or p99 is None or requests is None:
        raise ValueError(f"unreadable wrk output: {output.strip()[-300:]!r}")
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    ok = re.search(r"^vth-(?:ok|created) (\d+)", output, re.M)
    other = re.search(r"^vth-other (\d+)", output, re.M)
    issued = re.search(r"^vth-issued (\d+)", output, re.M)
    statuses = re.search(r"^vth-statuses(.*)$", output, re.M)
    unexpected = int(other.group(1)) if other else 0
    if non2xx:
        unexpected = max(unexpected, int(non2xx.group(1)))
    return WrkResult(
        requests=int(requests.group(1)),
        rate=float(rate.group(1)),
        p99_ms=float(p99.group(1)) * _UNITS_MS[p99.group(2)],
        ok=int(ok.group(1)) if ok else int(requests.group(1)) - unexpected,
        unexpected=unexpected,
        socket_errors=sum(int(g) for g in socket.groups()) if socket else 0,
        issued=int(issued.group(1)) if issued else 0,
        statuses=statuses.group(1) if statuses else "",
    )


@dataclass(frozen=True)
class Stored:
    """What the store holds after the POSTs: counts and some ids to read back."""

    alerts: int
    events: int
    incidents: int
    sample_ids: list[str]


def _stored(database: Path) -> Stored:
    """Count alerts, audit events and incidents in the SQLite file (read-only).

    Waits until the count of alerts holds still: requests wrk left in flight may
    still be committing.
    """
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        alerts = -1
        for _ in range(20):
            before, alerts = alerts, db.execute("SELECT count(*) FROM alerts").fetchone()[0]
            if alerts == before:
                break
            time.sleep(0.25)
        events = db.execute("SELECT count(*) FROM alert_events").fetchone()[0]
        incidents = db.execute("SELECT count(*) FROM incidents").fetchone()[0]
        ids = [r[0] for r in db.execute("SELECT id FROM alerts ORDER BY random() LIMIT 2000")]
    if not ids:
        raise RuntimeError("no alert was stored by the POSTs")
    return Stored(alerts, events, incidents, ids)


def _rate(per_s: float) -> str:
    return f"{per_s / 1e3:.1f} k" if per_s >= 1e3 else f"{per_s:.0f}"


def _ms(ms: float) -> str:
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def _count(n: int) -> str:
    return f"{n / 1e3:.1f} k" if n >= 10_000 else str(n)


if __name__ == "__main__":
    started = time.perf_counter()
    for row in api_rows():
        print(" | ".join(row))
    print(f"({time.perf_counter() - started:.0f} s)")
