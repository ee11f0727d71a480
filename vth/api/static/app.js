/* The inspector's page: the MBAs on a map, the alert list and the alert detail.
 * Plain JavaScript; every text from the API goes into the page as text, never as HTML. */
"use strict";

const KEY_STORE = "vth-api-key";
const STATUS_ORDER = ["new", "acknowledged", "forwarded", "in_inspection", "closed"];
const SEVERITY_ORDER = ["low", "medium", "high", "critical"];
const SEVERITY_COLOUR = {
  critical: "#7f0000", high: "#d7301f", medium: "#fc8d59", low: "#fdcc8a", none: "#888888",
};
const ACTORS = ["inspector", "admin"];
const SVG_NS = "http://www.w3.org/2000/svg";

const state = {
  me: null, profiles: new Map(), sensors: null, markers: new Map(), map: null, overlay: null,
  openAlerts: [], unauthorised: false, selectedId: null, selected: null, quicklookUrl: null, listSeq: 0,
};

/* ---------- small helpers ---------- */

const $ = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "onclick") node.addEventListener("click", value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Tooltip or popup content as text (Leaflet would take a string as HTML). */
function tip(text) {
  return el("span", { text });
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function fmtNumber(x) {
  if (x === null || x === undefined || !Number.isFinite(Number(x))) return "—";
  const n = Number(x);
  if (Math.abs(n) >= 1000) return Math.round(n).toString();
  return String(Number(n.toPrecision(Math.abs(n) >= 1 ? 4 : 3)));
}

function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().slice(0, 16).replace("T", " ");
}

function showMessage(text) {
  $("message").textContent = text || "";
  $("message").hidden = !text;
}

function pollMs() {
  const fromUrl = Number(new URLSearchParams(window.location.search).get("poll"));
  if (Number.isFinite(fromUrl) && fromUrl > 0) return fromUrl;
  const fromWindow = Number(window.VTH_POLL_MS);
  return Number.isFinite(fromWindow) && fromWindow > 0 ? fromWindow : 5000;
}

/* ---------- API ---------- */

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

function errorText(body) {
  if (!body || body.detail === undefined) return "";
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
  return JSON.stringify(body.detail);
}

async function api(path, options) {
  const opts = options || {};
  const headers = { Accept: "application/json", ...(opts.headers || {}) };
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) headers["X-API-Key"] = key;
  if (opts.json !== undefined) headers["Content-Type"] = "application/json";
  const body = opts.json === undefined ? undefined : JSON.stringify(opts.json);
  const response = await fetch(path, { method: opts.method || "GET", headers, body });
  if (response.ok) return response;
  let detail = response.statusText;
  try { detail = errorText(await response.json()) || detail; } catch (e) { /* not JSON */ }
  if (response.status === 401) {
    state.unauthorised = true; // no more requests until a key is saved
    showMessage("Deze dienst vraagt een API-sleutel: vul uw sleutel rechtsboven in en kies Opslaan.");
  }
  throw new ApiError(response.status, detail);
}

async function apiJson(path, options) {
  return (await api(path, options)).json();
}

function reportError(err, what) {
  if (err instanceof ApiError && err.status === 401) return; // message already shown
  const text = err instanceof ApiError ? `${err.status}: ${err.message}` : String(err.message || err);
  showMessage(`${what} mislukt — ${text}`);
}

/* ---------- who am I ---------- */

async function loadMe() {
  try {
    state.me = await apiJson("/me");
    const who = state.me;
    $("whoami").textContent = `${who.name} (${who.role}${who.agency ? ", " + who.agency : ""})`;
  } catch (err) {
    state.me = null;
    $("whoami").textContent = "niet aangemeld";
    reportError(err, "Aanmelden");
  }
}

function mayAct() {
  return Boolean(state.me && ACTORS.includes(state.me.role));
}

/* ---------- the map ---------- */

function initMap(tileUrl) {
  state.map = L.map("map", { zoomControl: true, preferCanvas: false }).setView([51.92, 4.25], 10);
  if (tileUrl) L.tileLayer(tileUrl, { maxZoom: 19 }).addTo(state.map);
  else $("map").classList.add("no-tiles");
  L.control.scale({ imperial: false }).addTo(state.map);
  state.overlay = L.layerGroup().addTo(state.map);
}

async function loadProfiles() {
  const list = await apiJson("/profiles").catch((err) => { reportError(err, "Inrichtingen laden"); return []; });
  state.profiles = new Map(list.map((p) => [p.id, p]));
  fillMbaFilter(list);
  drawMbaMarkers(list);
  await Promise.all(list.map(drawFootprint));
}

function fillMbaFilter(list) {
  const select = $("filter-mba");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "", text: "alle" }));
  for (const p of list) select.append(el("option", { value: p.id, text: `${p.id} — ${p.name}` }));
  select.value = state.profiles.has(chosen) ? chosen : "";
}

function drawMbaMarkers(list) {
  for (const marker of state.markers.values()) marker.remove();
  state.markers.clear();
  const points = [];
  for (const p of list) {
    if (!p.location) continue;
    const at = [p.location.lat, p.location.lon];
    const marker = L.circleMarker(at, {
      radius: 10, weight: 2, color: "#333", fillColor: SEVERITY_COLOUR.none, fillOpacity: 0.9,
      className: "mba-marker severity-none",
    }).addTo(state.map);
    marker.bindTooltip(tip(p.id), { permanent: true, direction: "right", offset: [10, 0], className: "mba-label" });
    marker.bindPopup(() => mbaPopup(p.id));
    const node = marker.getElement();
    if (node) node.setAttribute("data-mba-id", p.id);
    state.markers.set(p.id, marker);
    points.push(at);
  }
  if (points.length) state.map.fitBounds(L.latLngBounds(points).pad(0.25), { maxZoom: 13 });
}

async function drawFootprint(profile) {
  const full = await apiJson(`/profiles/${encodeURIComponent(profile.id)}`).catch(() => null);
  if (!full || !full.footprint) return; // the page works without footprints
  L.geoJSON(full.footprint, { style: { color: "#2b5d8a", weight: 1, fillOpacity: 0.08 }, interactive: false })
    .addTo(state.map).bringToBack();
}

function mbaPopup(mbaId) {
  const p = state.profiles.get(mbaId);
  const open = (state.openAlerts || []).filter((a) => a.mba_id === mbaId);
  const box = el("div", { class: "popup" }, el("strong", { text: p ? p.name : mbaId }));
  if (!open.length) box.append(el("p", { class: "muted", text: "Geen open meldingen." }));
  const items = el("ul");
  for (const a of open.slice(0, 12)) {
    const text = `${fmtTime(a.start)} ${a.kind} ${a.substance || ""} (${a.severity}, ${a.status})`;
    items.append(el("li", {}, el("a", {
      href: "#", text, onclick: (ev) => { ev.preventDefault(); selectAlert(a.id); },
    })));
  }
  if (open.length) box.append(items);
  if (open.length > 12) box.append(el("p", { class: "muted", text: `en ${open.length - 12} meer` }));
  return box;
}

function worstSeverity(alerts) {
  const worst = Math.max(-1, ...alerts.map((a) => SEVERITY_ORDER.indexOf(a.severity)));
  return worst < 0 ? "none" : SEVERITY_ORDER[worst];
}

async function refreshMarkers() {
  const all = await apiJson("/alerts?reviewed=false&limit=1000").catch(() => []);
  state.openAlerts = all.filter((a) => a.status !== "closed");
  for (const [mbaId, marker] of state.markers) {
    const sev = worstSeverity(state.openAlerts.filter((a) => a.mba_id === mbaId));
    marker.setStyle({ fillColor: SEVERITY_COLOUR[sev] });
    const node = marker.getElement();
    if (!node) continue;
    for (const s of [...SEVERITY_ORDER, "none"]) node.classList.remove(`severity-${s}`);
    node.classList.add(`severity-${sev}`);
    node.setAttribute("data-severity", sev);
  }
}

/* ---------- the list ---------- */

function utcParam(value) {
  return value ? new Date(value.length === 16 ? `${value}:00Z` : `${value}Z`).toISOString() : "";
}

function listQuery() {
  const q = new URLSearchParams({ limit: "200" });
  const add = (name, value) => { if (value) q.set(name, value); };
  add("mba_id", $("filter-mba").value);
  add("kind", $("filter-kind").value);
  add("status", $("filter-status").value);
  add("since", utcParam($("filter-since").value));
  add("until", utcParam($("filter-until").value));
  if (!$("filter-repeats").checked) q.set("incident_lead", "true");
  return q.toString();
}

async function loadList() {
  if (state.unauthorised) { document.body.dataset.ready = "1"; return; }
  const seq = ++state.listSeq;
  try {
    const response = await api(`/alerts?${listQuery()}`);
    const alerts = await response.json();
    if (seq !== state.listSeq) return; // a newer load is under way
    renderList(alerts, response.headers.get("X-Total-Count"));
    $("list-updated").textContent = `bijgewerkt ${new Date().toISOString().slice(11, 19)} UTC`;
  } catch (err) {
    if (seq === state.listSeq) reportError(err, "Meldingen laden");
  }
  await refreshMarkers();
  document.body.dataset.ready = "1";
}

function valueText(a) {
  if (a.value === null || a.value === undefined) return "—";
  const limit = a.limit === null || a.limit === undefined ? "" : ` / ${fmtNumber(a.limit)}`;
  return `${fmtNumber(a.value)}${limit}${a.unit ? " " + a.unit : ""}`;
}

function alertRow(a) {
  const cell = (cls, text) => el("td", { class: cls, text });
  const row = el("tr", { "data-alert-id": a.id, class: `severity-${a.severity}`, tabindex: "0" },
    cell("start", fmtTime(a.start)), cell("mba", a.mba_id), cell("kind", a.kind),
    cell("substance", a.substance || "—"), cell("value", valueText(a)),
    el("td", { class: "severity" }, el("span", { class: `sev sev-${a.severity}`, text: a.severity })),
    cell("status", a.status));
  row.cells[1].title = (state.profiles.get(a.mba_id) || {}).name || a.mba_id;
  if (a.id === state.selectedId) row.classList.add("selected");
  row.addEventListener("click", () => selectAlert(a.id));
  row.addEventListener("keydown", (ev) => { if (ev.key === "Enter") selectAlert(a.id); });
  return row;
}

function renderList(alerts, total) {
  $("alert-list").tBodies[0].replaceChildren(...alerts.map(alertRow));
  $("alert-count").textContent = total === null ? String(alerts.length) : total;
  $("list-empty").hidden = alerts.length > 0;
}

function markSelectedRow() {
  for (const row of $("alert-list").tBodies[0].rows) row.classList.toggle("selected", row.dataset.alertId === state.selectedId);
}

/* ---------- the detail ---------- */

async function selectAlert(id) {
  state.selectedId = id;
  markSelectedRow();
  try {
    const base = `/alerts/${encodeURIComponent(id)}`;
    const [alert, events, deliveries] = await Promise.all(["", "/events", "/deliveries"].map((p) => apiJson(base + p)));
    if (state.selectedId !== id) return;
    state.selected = alert;
    renderDetail(alert, events, deliveries);
  } catch (err) {
    reportError(err, "Melding openen");
  }
}

function renderDetail(a, events, deliveries) {
  const where = [a.mba_id, a.source_id].filter(Boolean).join(" / ");
  const profile = state.profiles.get(a.mba_id);
  $("detail-title").textContent = `${a.kind}${a.substance ? " " + a.substance : ""} — ${where}` +
    (profile ? ` (${profile.name})` : "");
  $("detail-status").textContent = a.status;
  $("detail-status").className = `st st-${a.status}`;
  renderLhso(a);
  renderEvidence(a);
  renderVisual(a);
  renderEvents(events);
  renderDeliveries(deliveries);
  updateButtons(a);
  drawAlertOnMap(a);
  $("alert-detail").hidden = false;
}

function renderLhso(a) {
  const box = $("detail-lhso");
  const s = a.lhso || {};
  box.replaceChildren(
    el("p", {}, el("strong", { text: "Suggestie: " }),
      `gevolg ${s.consequence ?? "?"}, gedrag ${s.behaviour ?? "?"}`),
    el("p", { class: "muted", text: s.reason || "" }));
  const d = a.lhso_decision;
  if (d) {
    box.append(el("p", { class: "decision" }, el("strong", { text: "Besluit inspecteur: " }),
      `gevolg ${d.consequence}, gedrag ${d.behaviour}` +
      (d.decided_by ? ` — ${d.decided_by}` : "") + (d.decided_at ? `, ${fmtTime(d.decided_at)} UTC` : "")));
    if (d.note) box.append(el("p", { class: "muted", text: d.note }));
  }
  $("lhso-consequence").value = String((d || s).consequence || 1);
  $("lhso-behaviour").value = (d || s).behaviour || "unknown";
}

function evidenceFacts(a) {
  const e = a.evidence || {};
  const facts = [["Periode (UTC)", `${fmtTime(a.start)} – ${fmtTime(a.end)}`], ["Waarde / norm", valueText(a)],
    ["Ernst", a.severity], ["Detector", a.detector]];
  if (a.sensor_id) facts.push(["Sensor", a.sensor_id]);
  if (a.average) facts.push(["Middelingstijd", a.average + (a.rule ? `, ${a.rule}` : "")]);
  if (a.incident_id && a.incident_id !== a.id) facts.push(["Incident", a.incident_id]);
  if (e.reason) facts.push(["Reden", e.reason]);
  if (e.reasoning) facts.push(["Redenering", e.reasoning]);
  if (e.scene) facts.push(["Opname", `${e.scene.platform || ""} ${fmtTime(e.scene.time)} (${e.scene.scene_id || ""})`]);
  if (e.rate) facts.push(["Emissie", `${fmtNumber(e.rate.rate_kg_h)} ± ${fmtNumber(e.rate.sigma_kg_h)} kg/h`]);
  if (e.wind) facts.push(["Wind", `uit ${fmtNumber(e.wind.from_deg)}° met ${fmtNumber(e.wind.speed_m_s)} m/s (${e.wind.station || "?"})`]);
  if (e.confidence_interval_subtracted) facts.push(["Meetonzekerheid afgetrokken", fmtNumber(e.confidence_interval_subtracted)]);
  if (e.fault) facts.push(["Storing", e.fault]);
  return facts;
}

function renderEvidence(a) {
  $("detail-evidence").replaceChildren(
    ...evidenceFacts(a).flatMap(([term, value]) => [el("dt", { text: term }), el("dd", { text: value })]));
}

function renderVisual(a) {
  const box = $("detail-visual");
  if (state.quicklookUrl) URL.revokeObjectURL(state.quicklookUrl);
  state.quicklookUrl = null;
  box.replaceChildren();
  if (a.kind === "exceedance" || a.kind === "peak") box.append(seriesChart(a));
  else if (a.kind === "heat_anomaly" || a.kind === "methane_plume") showQuicklook(a, box);
  else if (a.kind === "gas_incident") box.append(candidateList(a));
}

/* ---------- series chart (hand-drawn SVG) ---------- */

/** The evidence's window averages (or values) as bars {t, te, v}; times in ms, else indices. */
function seriesPoints(a) {
  const e = a.evidence || {};
  const rows = Array.isArray(e.windows) ? e.windows : Array.isArray(e.values) ? e.values : [];
  const pts = [];
  for (const w of rows) {
    const v = typeof w === "number" ? w : (w.validated ?? w.average ?? w.value);
    const t = typeof w === "number" ? NaN : Date.parse(w.start || w.time || "");
    const te = typeof w === "number" ? NaN : Date.parse(w.end || "");
    if (v !== null && Number.isFinite(Number(v))) pts.push({ t, te, v: Number(v) });
  }
  if (!pts.length && Number.isFinite(a.value)) pts.push({ t: Date.parse(a.start), te: Date.parse(a.end), v: a.value });
  pts.forEach((p, i) => {
    if (!Number.isFinite(p.t)) p.t = i;
    if (!Number.isFinite(p.te) || p.te <= p.t) p.te = p.t + (p.t > 1e6 ? 60000 : 1);
  });
  return pts;
}

function seriesChart(a) {
  const W = 400, H = 220, m = { l: 50, r: 10, t: 20, b: 28 };
  const pts = seriesPoints(a);
  const limit = Number.isFinite(a.limit) ? a.limit : null;
  const chart = svg("svg", { id: "series", viewBox: `0 0 ${W} ${H}`, role: "img", class: "series",
    "aria-label": "Gemiddelden rond de melding met de norm" });
  const vmax = Math.max(...pts.map((p) => p.v), limit ?? 0, 1e-9) * 1.15;
  const t0 = Math.min(...pts.map((p) => p.t)), t1 = Math.max(...pts.map((p) => p.te));
  const x = (t) => m.l + ((t - t0) / (t1 - t0 || 1)) * (W - m.l - m.r);
  const y = (v) => H - m.b - (v / vmax) * (H - m.t - m.b);
  const text = (attrs, label) => chart.append(svg("text", { class: "tick", ...attrs }, label));
  for (let i = 0; i <= 4; i++) {
    const v = (vmax / 4) * i;
    chart.append(svg("line", { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v), class: "grid" }));
    text({ x: m.l - 6, y: y(v) + 4, "text-anchor": "end" }, fmtNumber(v));
  }
  text({ x: 4, y: 13, class: "axis-label" }, a.unit || "");
  if (pts.length) {
    text({ x: m.l, y: H - 10 }, labelTime(t0));
    text({ x: W - m.r, y: H - 10, "text-anchor": "end" }, labelTime(t1));
  }
  for (const p of pts) {
    const over = limit !== null && p.v > limit;
    const bar = svg("rect", { x: x(p.t) + 1, y: y(p.v), width: Math.max(x(p.te) - x(p.t) - 2, 2),
      height: Math.max(y(0) - y(p.v), 1), class: over ? "bar over" : "bar" });
    bar.append(svg("title", {}, `${labelTime(p.t)}–${labelTime(p.te)}: ${fmtNumber(p.v)} ${a.unit || ""}`));
    chart.append(bar);
  }
  if (limit !== null) {
    chart.append(svg("line", { id: "limit-line", x1: m.l, x2: W - m.r, y1: y(limit), y2: y(limit), class: "limit" }));
    text({ x: W - m.r, y: y(limit) - 5, class: "limit-label", "text-anchor": "end" }, `norm ${fmtNumber(limit)}`);
  }
  const caption = `${pts.length} × ${a.average || ""} gemiddelde (UTC); rood: boven de norm, stippellijn: norm`;
  return el("figure", { class: "chart" }, chart, el("figcaption", { class: "muted", text: caption }));
}

function labelTime(t) {
  return t > 1e6 ? new Date(t).toISOString().slice(11, 16) : String(t);
}

/* ---------- quicklook ---------- */

async function showQuicklook(a, box) {
  const img = el("img", { id: "quicklook", alt: "Quicklook van de opname" });
  box.append(el("figure", { class: "quicklook" }, img,
    el("figcaption", { class: "muted", text: "Quicklook van de satelliet-/luchtopname" })));
  try {
    const blob = await (await api(`/alerts/${encodeURIComponent(a.id)}/quicklook.png`,
      { headers: { Accept: "image/png" } })).blob();
    if (state.selectedId !== a.id) return;
    state.quicklookUrl = URL.createObjectURL(blob);
    img.src = state.quicklookUrl;
  } catch (err) {
    img.alt = "Geen quicklook beschikbaar";
  }
}

/* ---------- gas incident: candidates and the upwind line ---------- */

function candidateList(a) {
  const list = el("ol", { id: "candidates", class: "candidates" });
  for (const c of a.candidates || []) {
    const name = [c.mba_id, c.source_id].filter(Boolean).join(" / ");
    list.append(el("li", {},
      el("span", { class: "cand-name", text: name }), " ",
      el("span", { class: "cand-score", text: `score ${fmtNumber(c.score)}` }),
      el("div", { class: "muted cand-reason", text: c.reason || "" })));
  }
  if (!list.children.length) list.append(el("li", { class: "muted", text: "Geen kandidaat-bron gevonden." }));
  return el("section", {}, el("h3", { text: "Mogelijke bronnen" }), list);
}

async function sensorPlaces() {
  if (!state.sensors) state.sensors = await apiJson("/ui/sensors").catch(() => null);
  return state.sensors || [];
}

/** The point `metres` away from (lat, lon) towards `bearing` degrees (0 = north). */
function destination(lat, lon, bearing, metres) {
  const R = 6371000, d = metres / R, b = (bearing * Math.PI) / 180;
  const p1 = (lat * Math.PI) / 180, l1 = (lon * Math.PI) / 180;
  const p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(b));
  const l2 = l1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * Math.sin(p2));
  return [(p2 * 180) / Math.PI, (l2 * 180) / Math.PI];
}

async function drawGasIncident(a) {
  const e = a.evidence || {};
  const places = await sensorPlaces();
  if (state.selectedId !== a.id) return;
  const located = [];
  for (const r of Array.isArray(e.responding) ? e.responding : []) {
    const p = places.find((s) => s.id === r.sensor && s.mba_id === r.mba_id) ||
      places.find((s) => s.id === r.sensor);
    if (!p) continue;
    located.push([p.lat, p.lon]);
    const dot = L.circleMarker([p.lat, p.lon], {
      radius: 6, color: "#5b2a86", weight: 2, fillColor: "#b98ee0", fillOpacity: 0.9, className: "enose responding",
    }).bindTooltip(tip(`${r.sensor}: ${fmtNumber(r.peak_x_threshold)}x drempel`)).addTo(state.overlay);
    const node = dot.getElement();
    if (node) node.setAttribute("data-sensor-id", r.sensor);
  }
  const lat = located.length ? located.reduce((s, p) => s + p[0], 0) / located.length : a.lat;
  const lon = located.length ? located.reduce((s, p) => s + p[1], 0) / located.length : a.lon;
  const wind = e.wind;
  if (wind && Number.isFinite(wind.from_deg) && Number.isFinite(lat) && Number.isFinite(lon)) {
    const end = destination(lat, lon, wind.from_deg, upwindLength(a, lat, lon));
    L.polyline([[lat, lon], end], { className: "upwind", color: "#1f5fbf", weight: 3, dashArray: "8 6" })
      .bindTooltip(tip(`bovenwinds: wind uit ${fmtNumber(wind.from_deg)}°`)).addTo(state.overlay);
    located.push(end);
  }
  if (located.length) state.map.fitBounds(L.latLngBounds(located).pad(0.3), { maxZoom: 14 });
}

function upwindLength(a, lat, lon) {
  let far = 0;
  for (const c of a.candidates || []) {
    const p = state.profiles.get(c.mba_id);
    if (p && p.location) far = Math.max(far, state.map.distance([lat, lon], [p.location.lat, p.location.lon]));
  }
  return Math.min(Math.max(far * 1.5, 3000), 20000);
}

function drawAlertOnMap(a) {
  state.overlay.clearLayers();
  if (a.kind === "gas_incident") {
    drawGasIncident(a).catch((err) => reportError(err, "Kaart bijwerken"));
    return;
  }
  if (!Number.isFinite(a.lat) || !Number.isFinite(a.lon)) return;
  L.circleMarker([a.lat, a.lon], {
    radius: 7, color: "#000", weight: 2, fillColor: SEVERITY_COLOUR[a.severity] || "#888",
    fillOpacity: 1, className: "alert-position",
  }).bindTooltip(tip(`${a.kind} ${a.source_id || ""}`)).addTo(state.overlay);
  state.map.setView([a.lat, a.lon], Math.max(state.map.getZoom(), 13));
}

/* ---------- audit trail and deliveries ---------- */

function renderEvents(events) {
  const list = $("detail-events");
  list.replaceChildren();
  for (const ev of events || []) {
    const step = ev.from_status || ev.to_status ? ` ${ev.from_status || "—"} → ${ev.to_status || "—"}` : "";
    const note = ev.detail && (ev.detail.note || ev.detail.outcome);
    list.append(el("li", {}, el("span", { class: "muted", text: `${fmtTime(ev.at)} ` }),
      el("strong", { text: ev.actor }), ` ${ev.action}${step}`, note ? ` (${note})` : ""));
  }
  if (!list.children.length) list.append(el("li", { class: "muted", text: "Nog niets vastgelegd." }));
}

function renderDeliveries(deliveries) {
  const list = $("detail-deliveries");
  list.replaceChildren();
  for (const d of deliveries || []) {
    const when = d.delivered_at ? `, ${fmtTime(d.delivered_at)}` : d.next_attempt_at ? `, volgende poging ${fmtTime(d.next_attempt_at)}` : "";
    list.append(el("li", {}, el("strong", { text: d.target }), ` ${d.status} (${d.attempts} pogingen${when})`,
      d.last_error ? el("div", { class: "muted", text: d.last_error }) : null));
  }
  if (!list.children.length) list.append(el("li", { class: "muted", text: "Geen doorzendingen." }));
}

/* ---------- workflow ---------- */

const STEP_BUTTONS = { "btn-acknowledge": "acknowledged", "btn-forward": "forwarded", "btn-inspect": "in_inspection", "btn-close": "closed" };

function updateButtons(a) {
  const act = mayAct();
  const here = STATUS_ORDER.indexOf(a.status);
  for (const [id, target] of Object.entries(STEP_BUTTONS)) $(id).disabled = !act || STATUS_ORDER.indexOf(target) <= here;
  for (const id of ["close-outcome", "close-note"]) $(id).disabled = !act || a.status === "closed";
  for (const id of ["btn-lhso", "lhso-consequence", "lhso-behaviour"]) $(id).disabled = !act;
}

async function postAndReload(path, body, what) {
  const id = state.selectedId;
  if (!id) return;
  try {
    await api(`/alerts/${encodeURIComponent(id)}/${path}`, { method: "POST", json: body });
    showMessage("");
  } catch (err) {
    reportError(err, what);
  }
  await Promise.all([selectAlert(id), loadList()]);
}

function changeStatus(target) {
  const note = $("close-note").value.trim();
  const body = target !== "closed" ? { status: target }
    : { status: target, outcome: $("close-outcome").value, ...(note ? { note } : {}) };
  return postAndReload("status", body, `Status ${target}`);
}

function decideLhso() {
  const body = { consequence: Number($("lhso-consequence").value), behaviour: $("lhso-behaviour").value };
  return postAndReload("lhso", body, "LHSO vastleggen");
}

/* ---------- start ---------- */

function bindControls() {
  $("filters").addEventListener("submit", (ev) => ev.preventDefault());
  for (const id of ["filter-mba", "filter-kind", "filter-status", "filter-since", "filter-until", "filter-repeats"]) {
    $(id).addEventListener("change", () => loadList());
  }
  for (const [id, target] of Object.entries(STEP_BUTTONS)) $(id).addEventListener("click", () => changeStatus(target));
  $("btn-lhso").addEventListener("click", decideLhso);
  $("key-form").addEventListener("submit", (ev) => { ev.preventDefault(); saveKey(); });
}

async function saveKey() {
  const key = $("api-key").value.trim();
  if (key) sessionStorage.setItem(KEY_STORE, key);
  else sessionStorage.removeItem(KEY_STORE);
  $("api-key").value = "";
  showMessage("");
  state.sensors = null;
  state.unauthorised = false;
  await loadMe();
  if (!state.unauthorised) await loadProfiles();
  await loadList();
  if (state.selected) updateButtons(state.selected);
}

async function loadConfig() {
  return fetch("/ui/config").then((r) => r.json()).catch(() => ({ version: "", tile_url: null }));
}

async function start() {
  window.VTH_POLL_MS = pollMs();
  bindControls();
  const config = await loadConfig();
  $("version").textContent = config.version ? `v${config.version}` : "";
  initMap(config.tile_url);
  await loadMe();
  if (!state.unauthorised) await loadProfiles();
  await loadList();
  window.setInterval(() => { loadList(); }, window.VTH_POLL_MS);
}

start().catch((err) => {
  showMessage(`De pagina kon niet starten: ${err.message || err}`);
  document.body.dataset.ready = "1";
});
