"""Fixtures of the browser tests of the inspector's page: Chromium, a live server, a page.

The tests drive the real page (``GET /ui/``) in headless Chromium against the real app
served by uvicorn on a loopback port. Chromium comes from ``VTH_CHROMIUM`` or the system
(Debian's ``chromium``); without it the tests are skipped, unless ``VTH_REQUIRE_CHROMIUM=1``
(CI, which installs it) makes that a failure.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Error,
    Page,
    Playwright,
    Request,
    Route,
    sync_playwright,
)

from tests.api.conftest import EXAMPLE_PROFILES
from vth.api.app import create_app
from vth.api.auth import AccessControl, ApiKey, Role, digest
from vth.api.store import AlertStore
from vth.demo.screenshot import CHROMIUM_ARGS, find_chromium
from vth.gateways.broker import free_port
from vth.models import Alert, MbaProfile, SensorNetwork, load_networks, load_profiles

REQUIRE_ENV = "VTH_REQUIRE_CHROMIUM"
CHROMIUM_ENV = "VTH_CHROMIUM"
#: How long the page gets to show what a test waits for (ms).
TIMEOUT_MS = 10_000
#: The hosts the page may talk to: the test server's.
LOOPBACK = frozenset({"127.0.0.1"})
#: The console error Chromium logs for an answer of 401 to a fetch.
FAILED_401 = re.compile(r"Failed to load resource: the server responded with a status of 401")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The Chromium executable; skips (or fails, with ``VTH_REQUIRE_CHROMIUM=1``) without."""
    exe = find_chromium()
    if exe is None:
        where = os.environ.get(CHROMIUM_ENV) or "/usr/bin/chromium, /usr/bin/chromium-browser, PATH"
        reason = f"Chromium not found ({where}); apt-get install chromium or set {CHROMIUM_ENV}"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return exe


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright, chromium_path: str) -> Iterator[Browser]:
    """One headless Chromium for the session; each test gets a fresh context."""
    browser = playwright_driver.chromium.launch(
        executable_path=chromium_path, headless=True, args=list(CHROMIUM_ARGS)
    )
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="session")
def example_profiles_and_networks() -> tuple[dict[str, MbaProfile], dict[str, SensorNetwork]]:
    return load_profiles(EXAMPLE_PROFILES), load_networks(EXAMPLE_PROFILES / "networks")


@dataclass(frozen=True)
class Holder:
    """An API key of the keyed server and the plain key its holder sends."""

    name: str
    role: Role
    agency: str | None = None

    @property
    def key(self) -> str:
        return f"vth_web-test-key-of-{self.name}"

    def api_key(self) -> ApiKey:
        return ApiKey(
            name=self.name, role=self.role, agency=self.agency, key_sha256=digest(self.key)
        )

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}


INSPECTOR = Holder("ina", "inspector", "DCMR")
SCIENTIST = Holder("dirk", "data_scientist")
#: Submits the tests' alerts to the keyed server.
GATEWAY = Holder("gw", "gateway")
#: Reads back what the page did, on the keyed server.
ADMIN = Holder("root", "admin")


@dataclass
class LiveServer:
    """The app served over HTTP on a loopback port, with a client of the API."""

    base_url: str
    submitter: Holder | None = None
    reader: Holder | None = None

    def _headers(self, holder: Holder | None) -> dict[str, str]:
        return holder.headers if holder is not None else {}

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def post_alert(self, alert: Alert) -> dict[str, Any]:
        """Submit an alert as a gateway would (POST /alerts)."""
        response = httpx.post(
            self.url("/alerts"),
            json=alert.model_dump(mode="json"),
            headers=self._headers(self.submitter),
        )
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(self.url(path), params=params, headers=self._headers(self.reader))
        assert response.status_code == 200, response.text
        return response.json()

    def change_status(self, alert_id: str, status: str, **fields: Any) -> dict[str, Any]:
        response = httpx.post(
            self.url(f"/alerts/{alert_id}/status"),
            json={"status": status, **fields},
            headers=self._headers(self.reader),
        )
        assert response.status_code == 200, response.text
        return dict(response.json())


@contextmanager
def _serve(app: FastAPI) -> Iterator[str]:
    """Run the app with uvicorn in a thread on a free loopback port; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not start on 127.0.0.1:{port}", pytrace=False)
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


@pytest.fixture
def live_server(
    tmp_path: Path,
    example_profiles_and_networks: tuple[dict[str, MbaProfile], dict[str, SensorNetwork]],
) -> Iterator[LiveServer]:
    """The open API (every request acts as admin) with the example profiles and networks."""
    profiles, networks = example_profiles_and_networks
    with AlertStore(f"sqlite:///{tmp_path}/vth.db") as store:
        app = create_app(store=store, profiles=profiles, networks=networks)
        with _serve(app) as base_url:
            yield LiveServer(base_url)


@pytest.fixture
def keyed_server(
    tmp_path: Path,
    example_profiles_and_networks: tuple[dict[str, MbaProfile], dict[str, SensorNetwork]],
) -> Iterator[LiveServer]:
    """The API with keys: an inspector of DCMR, a data scientist, a gateway, an admin."""
    profiles, networks = example_profiles_and_networks
    access = AccessControl([h.api_key() for h in (INSPECTOR, SCIENTIST, GATEWAY, ADMIN)])
    with AlertStore(f"sqlite:///{tmp_path}/vth.db") as store:
        app = create_app(store=store, profiles=profiles, networks=networks, access=access)
        with _serve(app) as base_url:
            yield LiveServer(base_url, submitter=GATEWAY, reader=ADMIN)


@dataclass
class Watched:
    """A page whose console errors, uncaught exceptions and non-loopback requests are kept."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    allowed_console: list[re.Pattern[str]] = field(default_factory=list)

    def allow_console(self, pattern: re.Pattern[str]) -> None:
        """Console errors matching this pattern are expected (e.g. failed 401 loads)."""
        self.allowed_console.append(pattern)

    def unexpected_console_errors(self) -> list[str]:
        return [
            m for m in self.console_errors if not any(p.search(m) for p in self.allowed_console)
        ]

    def assert_clean(self) -> None:
        """No console error, no uncaught exception, no request off this machine."""
        problems = {
            "console errors": self.unexpected_console_errors(),
            "page errors": self.page_errors,
            "external requests": self.external_requests,
        }
        assert not any(problems.values()), problems


def _guard(watched: Watched) -> Callable[[Route, Request], None]:
    def handle(route: Route, request: Request) -> None:
        url = request.url
        host = urlsplit(url).hostname
        if url.startswith(("http:", "https:", "ws:", "wss:")) and host not in LOOPBACK:
            watched.external_requests.append(url)
            route.abort()
            return
        route.continue_()

    return handle


@pytest.fixture
def watched_page(browser: Browser) -> Iterator[Watched]:
    """A page in a fresh browser context that keeps what went wrong (see ``Watched``)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watched = Watched(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.console_errors.append(f"{message.text} ({message.location.get('url')})")

    def on_page_error(error: Error) -> None:
        watched.page_errors.append(f"{error.name}: {error.message}\n{error.stack}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    context.route("**/*", _guard(watched))
    try:
        yield watched
    finally:
        context.close()
