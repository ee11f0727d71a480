"""The inspector's page (GET /ui/) in headless Chromium against the live API.

Written against the page's DOM contract: ids and classes of the map, the filters, the
alert list and the detail with its workflow buttons. Every test also checks that the
page logged no console error, threw no uncaught exception and asked no host but the
test server for anything.
"""

from __future__ import annotations

import base64
import io
import re
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from matplotlib import image as mpimg
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.api.conftest import T0, build_alert
from tests.web.conftest import (
    FAILED_401,
    INSPECTOR,
    SCIENTIST,
    TIMEOUT_MS,
    Holder,
    LiveServer,
    Watched,
)
from vth.models import Alert, Candidate

pytestmark = pytest.mark.browser

#: The page with the list refreshed every half second.
PAGE = "/ui/?poll=500"
EXAMPLE_MBAS = {"avi-rozenburg", "chemie-botlek", "gasturbine-maasvlakte", "tankopslag-europoort"}
ASKS_FOR_KEY = re.compile(r"API[- ]?(key|sleutel)", re.IGNORECASE)
WORKFLOW_BUTTONS = ("#btn-acknowledge", "#btn-forward", "#btn-inspect", "#btn-close")


def open_page(watched: Watched, server: LiveServer) -> Page:
    """Load the page and wait until its first list load finished."""
    page = watched.page
    page.goto(server.url(PAGE))
    try:
        page.wait_for_selector('body[data-ready="1"]', state="attached")
    except PlaywrightTimeoutError:
        pytest.fail(
            f"the page never set body[data-ready=1]; console errors: {watched.console_errors}, "
            f"page errors: {watched.page_errors}, external requests: {watched.external_requests}"
        )
    return page


def row(page: Page, alert_id: str) -> Any:
    return page.locator(f'#alert-list tbody tr[data-alert-id="{alert_id}"]')


def exceedance(**overrides: Any) -> Alert:
    """An exceedance whose evidence has window averages around the event, as the detector's."""
    averages = [310.0, 380.0, 452.0, 470.0, 395.0]
    windows = [
        {
            "start": (T0 + timedelta(minutes=30 * (i - 2))).isoformat(),
            "end": (T0 + timedelta(minutes=30 * (i - 1))).isoformat(),
            "status": "valid",
            "average": v + 40.0,
            "validated": v,
            "max": v + 80.0,
            "samples": 30,
            "discarded": 0,
            "coverage": 1.0,
        }
        for i, v in enumerate(averages)
    ]
    fields: dict[str, Any] = {"evidence": {"windows": windows, "n_windows": len(windows)}}
    fields.update(overrides)
    return build_alert(**fields)


def gas_incident() -> Alert:
    """A gas incident of the e-nose network blamed on chemie-botlek, wind from the south-west."""
    responding = [
        {
            "sensor": sensor,
            "mba_id": "dcmr-enose-rijnmond",
            "start": "2025-11-22T14:00Z",
            "end": "2025-11-22T14:40Z",
            "peak_x_threshold": peak,
            "change_pct_at_peak": {"ch1": 12.5, "ch2": -3.0},
        }
        for sensor, peak in (("en-botlek-ne1", 2.6), ("en-botlek-n1", 2.1), ("en-botlek-e1", 1.4))
    ]
    return build_alert(
        kind="gas_incident",
        detector="enose",
        mba_id="chemie-botlek",
        source_id="flare-1",
        sensor_id=None,
        substance=None,
        start=T0 + timedelta(hours=4),
        end=T0 + timedelta(hours=4, minutes=40),
        value=2.6,
        limit=None,
        unit="x alarm threshold",
        lat=51.8795,
        lon=4.3135,
        severity="high",
        key="dcmr-enose-rijnmond|2025-11-22T14:00:00+00:00",
        candidates=[
            Candidate(
                mba_id="chemie-botlek",
                source_id="flare-1",
                score=0.82,
                reason="upwind of 3 responding e-noses, 1.1 km",
            ),
            Candidate(
                mba_id="tankopslag-europoort",
                score=0.07,
                reason="off the wind axis by 40 degrees",
            ),
        ],
        evidence={
            "reasoning": "3 e-noses responded; Wind from 225° at 4.2 m/s; chemie-botlek upwind.",
            "network": "dcmr-enose-rijnmond",
            "responding": responding,
            "quiet": ["en-botlek-w", "en-botlek-s"],
            "wind": {
                "from_deg": 225.0,
                "speed_m_s": 4.2,
                "spread_deg": 15.0,
                "station": "meteo-botlek",
                "samples": 40,
            },
        },
    )


def quicklook_png() -> str:
    """A small PNG (a 16 x 24 gradient), base64, as a heat detector's evidence holds it."""
    buffer = io.BytesIO()
    mpimg.imsave(buffer, np.linspace(0, 1, 16 * 24).reshape(16, 24), format="png", cmap="inferno")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def heat_anomaly() -> Alert:
    return build_alert(
        kind="heat_anomaly",
        detector="heat",
        mba_id="avi-rozenburg",
        source_id=None,
        sensor_id="landsat-9",
        substance=None,
        start=T0 + timedelta(hours=6),
        end=T0 + timedelta(hours=6),
        value=455.0,
        limit=420.0,
        unit="K",
        severity="high",
        evidence={"quicklook_png": quicklook_png(), "scene": "LC09_L1TP_198024"},
    )


def save_key(page: Page, holder: Holder) -> None:
    page.fill("#api-key", holder.key)
    page.click("#api-key-save")


def test_page_loads_with_a_marker_per_mba_and_nothing_external(
    live_server: LiveServer, watched_page: Watched
):
    page = open_page(watched_page, live_server)

    markers = page.locator("#map [data-mba-id]")
    expect(markers).to_have_count(len(EXAMPLE_MBAS))
    ids = {markers.nth(i).get_attribute("data-mba-id") for i in range(markers.count())}
    assert ids == EXAMPLE_MBAS
    expect(page.locator("#alert-list tbody tr[data-alert-id]")).to_have_count(0)
    expect(page.locator("#alert-detail")).to_be_hidden()
    watched_page.assert_clean()


def test_new_alert_appears_without_reload_and_moves_through_the_workflow(
    live_server: LiveServer, watched_page: Watched
):
    page = open_page(watched_page, live_server)
    page.evaluate("window.__notReloaded = true")
    alert = exceedance()
    live_server.post_alert(alert)

    tr = row(page, alert.id)
    expect(tr).to_have_count(1, timeout=5_000)
    expect(tr.locator(".status")).to_have_text("new")
    expect(page.locator("#alert-count")).to_have_text("1")
    expect(tr).to_have_class(re.compile(rf"(^|\s)severity-{alert.severity}(\s|$)"))
    expect(tr.locator(".mba")).to_contain_text("avi")
    assert page.evaluate("window.__notReloaded") is True

    tr.click()
    expect(page.locator("#alert-detail")).to_be_visible()
    expect(page.locator("#detail-status")).to_have_text("new")
    expect(page.locator("svg#series")).to_have_count(1)
    expect(page.locator("svg#series line#limit-line")).to_have_count(1)

    page.click("#btn-acknowledge")
    expect(page.locator("#detail-status")).to_have_text("acknowledged")
    assert live_server.get(f"/alerts/{alert.id}")["status"] == "acknowledged"
    events = live_server.get(f"/alerts/{alert.id}/events")
    assert [(e["action"], e["from_status"], e["to_status"]) for e in events][-1] == (
        "status",
        "new",
        "acknowledged",
    )
    expect(page.locator("#detail-events")).to_contain_text("acknowledged")
    expect(tr.locator(".status")).to_have_text("acknowledged")
    expect(page.locator("#btn-acknowledge")).to_be_disabled()

    page.select_option("#close-outcome", "no_violation")
    page.fill("#close-note", "start-up of line 1, permitted")
    page.click("#btn-close")
    expect(page.locator("#detail-status")).to_have_text("closed")
    stored = live_server.get(f"/alerts/{alert.id}")
    assert stored["status"] == "closed"
    assert stored["review"]["outcome"] == "no_violation"
    assert stored["review"]["note"] == "start-up of line 1, permitted"
    for button in WORKFLOW_BUTTONS:
        expect(page.locator(button)).to_be_disabled()
    watched_page.assert_clean()


def test_filters_narrow_the_list(live_server: LiveServer, watched_page: Watched):
    avi = exceedance()
    botlek = build_alert(
        kind="peak",
        detector="peaks",
        mba_id="chemie-botlek",
        source_id="furnace-1",
        sensor_id="cems-f101",
        substance="SO2",
        start=T0 + timedelta(hours=2),
        end=T0 + timedelta(hours=2, minutes=1),
        lat=51.8708,
        lon=4.2968,
    )
    for alert in (avi, botlek):
        live_server.post_alert(alert)
    live_server.change_status(avi.id, "acknowledged")
    page = open_page(watched_page, live_server)
    expect(page.locator("#alert-list tbody tr[data-alert-id]")).to_have_count(2)

    page.select_option("#filter-status", "acknowledged")
    expect(page.locator("#alert-list tbody tr[data-alert-id]")).to_have_count(1)
    expect(row(page, avi.id).locator(".status")).to_have_text("acknowledged")

    page.select_option("#filter-status", "")
    expect(page.locator("#alert-list tbody tr[data-alert-id]")).to_have_count(2)
    page.select_option("#filter-mba", "chemie-botlek")
    expect(page.locator("#alert-list tbody tr[data-alert-id]")).to_have_count(1)
    expect(row(page, botlek.id)).to_have_count(1)
    watched_page.assert_clean()


def test_gas_incident_shows_candidates_and_the_upwind_line(
    live_server: LiveServer, watched_page: Watched
):
    alert = gas_incident()
    live_server.post_alert(alert)
    page = open_page(watched_page, live_server)

    row(page, alert.id).click()
    candidates = page.locator("#candidates")
    expect(candidates).to_be_visible()
    expect(candidates).to_contain_text("upwind of 3 responding e-noses, 1.1 km")
    expect(candidates).to_contain_text("off the wind axis by 40 degrees")
    expect(page.locator("#map .upwind").first).to_be_attached()
    expect(page.locator("svg#series")).to_have_count(0)
    watched_page.assert_clean()


def test_heat_anomaly_shows_its_quicklook(live_server: LiveServer, watched_page: Watched):
    alert = heat_anomaly()
    live_server.post_alert(alert)
    page = open_page(watched_page, live_server)

    row(page, alert.id).click()
    expect(page.locator("img#quicklook")).to_be_visible()
    page.wait_for_function(
        "() => { const img = document.querySelector('img#quicklook');"
        " return img !== null && img.complete && img.naturalWidth > 0; }",
        timeout=TIMEOUT_MS,
    )
    assert page.eval_on_selector("img#quicklook", "img => img.naturalWidth") == 24
    watched_page.assert_clean()


def test_alert_without_position_does_not_break_the_page(
    live_server: LiveServer, watched_page: Watched
):
    alert = exceedance(mba_id="gasturbine-maasvlakte", lat=None, lon=None, severity="critical")
    live_server.post_alert(alert)
    page = open_page(watched_page, live_server)

    tr = row(page, alert.id)
    expect(tr).to_have_count(1)
    tr.click()
    expect(page.locator("#alert-detail")).to_be_visible()
    expect(page.locator("#detail-status")).to_have_text("new")
    expect(page.locator("#map [data-mba-id]")).to_have_count(len(EXAMPLE_MBAS))
    watched_page.assert_clean()


def test_without_a_key_the_page_asks_for_one(keyed_server: LiveServer, watched_page: Watched):
    keyed_server.post_alert(exceedance())
    watched_page.allow_console(FAILED_401)
    page = watched_page.page
    page.goto(keyed_server.url(PAGE))

    expect(page.locator("#message")).to_be_visible()
    # "... API key ..." or, on the Dutch page, "... API-sleutel ..."
    expect(page.locator("#message")).to_contain_text(ASKS_FOR_KEY)
    expect(page.locator("#alert-list tbody tr[data-alert-id]")).to_have_count(0)
    watched_page.assert_clean()


def test_a_data_scientist_may_read_but_not_move_alerts(
    keyed_server: LiveServer, watched_page: Watched
):
    alert = exceedance()
    keyed_server.post_alert(alert)
    watched_page.allow_console(FAILED_401)
    page = watched_page.page
    page.goto(keyed_server.url(PAGE))
    save_key(page, SCIENTIST)

    expect(page.locator("#whoami")).to_contain_text("dirk (data_scientist)")
    tr = row(page, alert.id)
    tr.click()
    expect(page.locator("#alert-detail")).to_be_visible()
    for button in WORKFLOW_BUTTONS:
        expect(page.locator(button)).to_be_disabled()
    watched_page.assert_clean()


def test_an_inspector_acknowledges_and_the_audit_names_them(
    keyed_server: LiveServer, watched_page: Watched
):
    alert = exceedance()
    keyed_server.post_alert(alert)
    watched_page.allow_console(FAILED_401)
    page = watched_page.page
    page.goto(keyed_server.url(PAGE))
    save_key(page, INSPECTOR)

    expect(page.locator("#whoami")).to_contain_text("ina (inspector, DCMR)")
    row(page, alert.id).click()
    expect(page.locator("#btn-acknowledge")).to_be_enabled()
    page.click("#btn-acknowledge")
    expect(page.locator("#detail-status")).to_have_text("acknowledged")

    events = keyed_server.get(f"/alerts/{alert.id}/events")
    change = events[-1]
    assert (change["action"], change["to_status"], change["actor"]) == (
        "status",
        "acknowledged",
        INSPECTOR.name,
    )
    expect(page.locator("#detail-events")).to_contain_text(INSPECTOR.name)
    watched_page.assert_clean()
