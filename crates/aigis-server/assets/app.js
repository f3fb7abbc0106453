// aigis dashboard: reads /api/v1 and draws it. Every string from the inventory (model names,
// paths, messages: attacker-controlled) goes into the page as text, never as markup; links are
// built only from numeric ids. The server's Content-Security-Policy allows this file and
// nothing inline.
"use strict";

const SEVERITIES = ["critical", "high", "medium", "incomplete", "low", "info", "none"];
const TRIAGE_STATES = ["in_triage", "false_positive", "not_affected", "accepted"];
const TOKEN_KEY = "aigis-token";

// ---- DOM helpers -----------------------------------------------------------------------

// An element with a class (optional) and children: strings become text nodes.
function el(tag, cls, ...children) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A link inside the dashboard: `parts` are route words and numbers, joined by "/".
function link(text, ...parts) {
  const a = el("a", null, text);
  a.href = "#/" + parts.map((p) => (typeof p === "number" ? String(Math.trunc(p)) : encodeURIComponent(p))).join("/");
  return a;
}

// A link to the models page with these filters.
function modelsLink(text, filters) {
  const a = el("a", null, text);
  a.href = "#/models?" + new URLSearchParams(filters).toString();
  return a;
}

function badge(severity) {
  const word = SEVERITIES.includes(severity) ? severity : "unknown";
  return el("span", "badge sev-" + word, severity || "unknown");
}

function when(seconds) {
  if (!Number.isFinite(seconds) || seconds <= 0) return "—";
  return new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

function bytes(n) {
  if (!Number.isFinite(n)) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function table(headers, rows, cls) {
  const t = el("table", cls || null);
  const head = el("tr");
  for (const h of headers) head.append(el("th", null, h));
  t.append(el("thead", null, head));
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr");
    for (const cell of row) tr.append(el("td", null, cell));
    body.append(tr);
  }
  t.append(body);
  return t;
}

function section(title, ...children) {
  return el("section", "card", el("h2", null, title), ...children);
}

function show(...children) {
  const main = document.getElementById("main");
  main.replaceChildren(...children);
}

// ---- the API -----------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, options) {
  const headers = { accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = "Bearer " + token;
  const init = Object.assign({ headers, credentials: "omit", cache: "no-store" }, options || {});
  if (init.body) headers["content-type"] = "application/json";
  const response = await fetch("/api/v1/" + path, init);
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    const message = body && body.error && body.error.message ? body.error.message : response.statusText;
    throw new ApiError(response.status, message);
  }
  return body;
}

function failure(err) {
  if (err instanceof ApiError && err.status === 401) {
    return section("A token is needed",
      el("p", null, "This server needs a token with the read scope to show the inventory: " + err.message),
      tokenForm());
  }
  return section("Could not load this page", el("p", "error", String(err.message || err)));
}

function tokenForm() {
  const form = el("form", "inline");
  const input = el("input");
  input.type = "password";
  input.name = "token";
  input.autocomplete = "off";
  input.placeholder = "aigis_…";
  const save = el("button", null, "Use this token");
  save.type = "submit";
  const forget = el("button", "secondary", "Forget the token");
  forget.type = "button";
  forget.addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); route(); });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    route();
  });
  form.append(el("label", null, "Token ", input), save, forget);
  return el("div", null,
    el("p", "muted", "Kept for this tab only (session storage) and sent as a bearer token. Triage needs the admin scope."),
    form);
}

// ---- pages ---------------------------------------------------------------------------------

function bars(counts, key) {
  const total = counts.reduce((sum, c) => sum + c.count, 0) || 1;
  const list = el("ul", "bars");
  for (const c of counts) {
    const bar = el("span", "bar" + (key === "verdict" ? " sev-" + (SEVERITIES.includes(c.key) ? c.key : "unknown") : ""));
    bar.style.width = Math.max(2, Math.round((100 * c.count) / total)) + "%";
    const label = key === "verdict" ? modelsLink(c.key, { verdict: c.key }) : el("span", null, c.key);
    list.append(el("li", null, el("span", "bar-label", label), el("span", "bar-track", bar), el("span", "bar-count", String(c.count))));
  }
  if (!counts.length) list.append(el("li", "muted", "none"));
  return list;
}

function changesTable(events) {
  if (!events.length) return el("p", "muted", "No changes.");
  return table(["When", "Event", "Severity", "Where", "Before", "Now", "What"], events.map((e) => [
    when(e.at), e.kind, badge(e.severity), el("code", null, e.location),
    e.old_sha256 ? el("span", null, el("code", null, e.old_sha256.slice(0, 12)), " ", badge(e.old_verdict)) : "—",
    e.new_sha256 ? el("span", null, el("code", null, e.new_sha256.slice(0, 12)), " ", badge(e.new_verdict)) : "—",
    e.message,
  ]), "changes");
}

async function overviewPage() {
  const o = await api("overview");
  const scan = o.last_scan;
  show(
    el("h1", null, "Overview"),
    el("div", "grid",
      section("Models held now", el("p", "big", String(o.models)), bars(o.by_verdict, "verdict")),
      section("Where they are", bars(o.by_source, "source")),
      section("Exposed models", o.by_exposure.length
        ? bars(o.by_exposure, "exposure")
        : el("p", "muted", "No model is at a location others can write or the public can read."),
        link("Attack paths", "paths")),
      section("Open findings", bars(o.open_findings, "verdict"))),
    section("What the last scan changed",
      scan ? el("p", "muted", "Scan " + scan.id + " on " + scan.host + " (" + scan.collector + ", aigis " + scan.tool_version + ") at " + when(scan.started_at) + ": " + scan.files + " files, " + scan.incomplete + " not analysed to the end.") : el("p", "muted", "Nothing recorded yet."),
      changesTable(o.changes)));
}

function query(hashQuery) {
  return new URLSearchParams(hashQuery || "");
}

async function modelsPage(params) {
  const q = params.get("q") || "";
  const verdict = params.get("verdict") || "";
  const gone = params.get("include_gone") === "true";
  const api_params = new URLSearchParams({ limit: "50" });
  if (q) api_params.set("q", q);
  if (verdict) api_params.set("verdict", verdict);
  if (gone) api_params.set("include_gone", "true");
  if (params.get("cursor")) api_params.set("cursor", params.get("cursor"));
  const page = await api("models?" + api_params.toString());

  const form = el("form", "filters");
  const search = el("input");
  search.type = "search";
  search.name = "q";
  search.value = q;
  search.placeholder = "name or identity";
  const select = el("select");
  select.name = "verdict";
  for (const v of [""].concat(SEVERITIES)) {
    const option = el("option", null, v || "any verdict");
    option.value = v;
    option.selected = v === verdict;
    select.append(option);
  }
  const include = el("input");
  include.type = "checkbox";
  include.checked = gone;
  const go = el("button", null, "Filter");
  go.type = "submit";
  form.append(el("label", null, "Search ", search), el("label", null, "Verdict ", select), el("label", null, include, " include models no longer held"), go);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (search.value.trim()) next.set("q", search.value.trim());
    if (select.value) next.set("verdict", select.value);
    if (include.checked) next.set("include_gone", "true");
    location.hash = "#/models" + (next.toString() ? "?" + next.toString() : "");
  });

  const rows = page.items.map((m) => [
    link(m.name, "model", m.id), badge(m.verdict), String(m.files),
    el("span", "locations", ...m.locations.slice(0, 3).map((l) => el("code", null, l)), m.locations.length > 3 ? "+" + (m.locations.length - 3) + " more" : null),
    m.license || "—", m.current ? "held" : "gone", String(m.last_scan),
  ]);
  const children = [el("h1", null, "Models"), form,
    rows.length ? table(["Model", "Verdict", "Files", "Where", "License", "Now", "Last scan"], rows, "models") : el("p", "muted", "No model matches.")];
  if (page.next) {
    const next = new URLSearchParams(params);
    next.set("cursor", page.next);
    const more = el("a", "more", "Next page");
    more.href = "#/models?" + next.toString();
    children.push(more);
  }
  show(...children);
}

function triageForm(finding, after) {
  const form = el("form", "triage");
  const state = el("select");
  for (const s of TRIAGE_STATES) {
    const option = el("option", null, s.replace("_", " "));
    option.value = s;
    state.append(option);
  }
  const reason = el("input");
  reason.placeholder = "reason";
  const expires = el("input");
  expires.type = "date";
  const button = el("button", null, "Mark");
  button.type = "submit";
  const status = el("span", "status");
  form.append(state, reason, expires, button, status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { state: state.value, reason: reason.value };
    if (expires.value) body.expires = Math.floor(Date.parse(expires.value + "T00:00:00Z") / 1000);
    try {
      await api("findings/" + Number(finding.id) + "/triage", { method: "POST", body: JSON.stringify(body) });
      after();
    } catch (err) {
      status.textContent = err.status === 401 || err.status === 403 ? "needs a token with the admin scope (Token, above)" : err.message;
    }
  });
  return form;
}

function findingList(findings, reload) {
  const list = el("ul", "findings");
  for (const f of findings) {
    const item = el("li", null,
      el("div", null, badge(f.severity), " ", el("strong", null, f.rule_id),
        f.triage ? el("span", "triaged", " " + f.triage.replace("_", " ") + (f.triage_reason ? ": " + f.triage_reason : "") + (f.triage_expires ? " (until " + when(f.triage_expires) + ")" : "")) : null),
      el("pre", "message", f.message),
      f.location_in_file ? el("div", "muted", "at " + f.location_in_file) : null);
    if (sessionStorage.getItem(TOKEN_KEY)) item.append(triageForm(f, reload));
    list.append(item);
  }
  return list;
}

function facts(pairs) {
  const dl = el("dl", "facts");
  for (const [k, v] of pairs) {
    if (v === null || v === undefined || v === "") continue;
    dl.append(el("dt", null, k), el("dd", null, v));
  }
  return dl;
}

async function modelPage(id) {
  const d = await api("models/" + Number(id));
  const m = d.model;
  const provenance = d.provenance && typeof d.provenance === "object"
    ? Object.entries(d.provenance).map(([k, v]) => ["provenance " + k, typeof v === "string" ? v : JSON.stringify(v)])
    : [];
  const reload = () => modelPage(id).catch((err) => show(failure(err)));
  const files = d.files.map((f) => el("div", "file",
    el("h3", null, badge(f.verdict), " ", f.format, " ", el("code", null, f.sha256 || "unhashed"), " ", el("span", "muted", bytes(f.size) + ", " + f.status)),
    f.incomplete ? el("p", "warning", "Not analysed to the end: " + f.incomplete) : null,
    f.findings.length ? findingList(f.findings, reload) : el("p", "muted", "No findings.")));
  show(
    el("h1", null, m.name, " ", badge(m.verdict)),
    el("p", null, link("Graph of this model's neighbourhood", "model", m.id, "graph")),
    section("Facts", facts([
      ["identity", el("code", null, m.identity)], ["layout", m.layout], ["framework", d.framework],
      ["architecture", d.architecture], ["license", m.license], ["files", String(m.files)],
      ["first seen in scan", String(m.first_scan)], ["last seen in scan", String(m.last_scan)],
    ].concat(provenance))),
    section("Where it is", table(["Location", "Now", "First scan", "Last scan"], d.places.map((p) => [
      el("code", null, p.uri), p.current ? "holds it" : "no longer", String(p.first_scan), String(p.last_scan),
    ]))),
    section("Files and what loading them does", ...files),
    section("History", timeline(d.history)));
}

function timeline(events) {
  if (!events.length) return el("p", "muted", "Nothing changed where it is.");
  const list = el("ol", "timeline");
  for (const e of events) {
    list.append(el("li", null,
      el("span", "muted", when(e.at) + " · scan " + e.scan_id), " ", badge(e.severity), " ", el("strong", null, e.kind),
      el("div", null, e.message),
      e.old_sha256 || e.new_sha256 ? el("div", "replaced",
        el("code", null, (e.old_sha256 || "—").slice(0, 16)), " ", e.old_verdict ? badge(e.old_verdict) : null,
        " → ", el("code", null, (e.new_sha256 || "—").slice(0, 16)), " ", e.new_verdict ? badge(e.new_verdict) : null) : null,
      el("div", null, el("code", null, e.location))));
  }
  return list;
}

async function pathsPage() {
  const paths = await api("paths");
  const list = el("ol", "paths");
  for (const p of paths) {
    const steps = el("ol", "steps");
    for (const s of p.steps) steps.append(el("li", null, s));
    list.append(el("li", "card",
      el("div", null, badge(p.severity), " ", el("strong", null, p.exposure), " → ", el("code", null, p.location), " → ", p.format,
        p.finding ? el("span", null, " → ", badge(p.finding_severity), " ", p.finding) : null),
      p.models.length ? el("div", "muted", "models: " + p.models.join(", ")) : null,
      steps));
  }
  show(el("h1", null, "Attack paths"),
    el("p", "muted", "From an exposure that lets others replace what a location holds, to code that runs when it is loaded; worst first."),
    paths.length ? list : el("p", "muted", "No attack paths: no location holding content is exposed."));
}

async function changesPage() {
  const events = await api("changes");
  show(el("h1", null, "Changes"), changesTable(events.slice().reverse()));
}

async function jobsPage() {
  const view = await api("jobs");
  const queues = table(
    ["Queue", "State", "Ready", "Delayed", "Running", "Lease expired", "Done", "Dead", "Files/s (5 min)", "Oldest ready"],
    view.queues.map((q) => [q.queue, q.paused ? "paused" : "active", q.ready, q.delayed, q.running, q.expired,
      q.done, q.dead, Number(q.files_per_second).toFixed(2),
      q.oldest_ready_secs === null || q.oldest_ready_secs === undefined ? "—" : q.oldest_ready_secs + " s"]),
    "queues");
  const running = table(["Job", "Kind", "Target", "Objects", "Worker", "Attempt", "Lease until"],
    view.running.map((j) => ["#" + Number(j.id), j.kind, j.target, j.objects, j.lease_owner || "—",
      j.attempts + "/" + j.max_attempts, leaseUntil(j.lease_expires_ms)]), "running");
  const dead = table(["Job", "Kind", "Target", "Objects", "Attempts", "Last error"],
    view.dead.map((j) => ["#" + Number(j.id), j.kind, j.target, j.objects, j.attempts, j.last_error || "—"]), "dead");
  show(el("h1", null, "Jobs"),
    section("Queues", view.queues.length ? queues : el("p", "muted", "Nothing has been enqueued (aigis enqueue TARGET).")),
    section("Running", view.running.length ? running : el("p", "muted", "No job is held by a worker now.")),
    section("Dead-lettered", view.dead.length ? dead : el("p", "muted", "No job has used up its attempts."),
      el("p", "muted", "Queue one again with: aigis jobs retry ID")));
}

function leaseUntil(millis) {
  if (!Number.isFinite(millis) || millis <= 0) return "—";
  return new Date(millis).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

// ---- the graph -----------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
const COLUMNS = ["exposure", "host", "bucket", "repo", "location", "model", "file", "finding"];

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

async function graphPage(id) {
  const g = await api("graph?model=" + Number(id));
  const columns = new Map();
  for (const n of g.nodes) {
    const c = Math.max(0, COLUMNS.indexOf(n.kind));
    if (!columns.has(c)) columns.set(c, []);
    columns.get(c).push(n);
  }
  const used = [...columns.keys()].sort((a, b) => a - b);
  const width = 230, rowHeight = 54, pad = 30;
  const height = pad * 2 + rowHeight * Math.max(1, ...[...columns.values()].map((c) => c.length));
  const at = new Map();
  used.forEach((c, x) => columns.get(c).forEach((n, y) => at.set(n.id, { x: pad + x * width, y: pad + y * rowHeight + 20 })));
  const drawing = svg("svg", { viewBox: "0 0 " + (pad * 2 + used.length * width) + " " + height, role: "img", class: "graph" });
  drawing.append(svg("title", {}, "Neighbourhood of model " + Number(id)));
  for (const e of g.edges) {
    const a = at.get(e.from), b = at.get(e.to);
    if (!a || !b) continue;
    const line = svg("line", { x1: a.x + 8, y1: a.y, x2: b.x - 8, y2: b.y, class: "edge edge-" + e.kind.replace(/[^a-z_]/g, "") });
    line.append(svg("title", {}, e.kind + (e.evidence ? ": " + e.evidence : "")));
    drawing.append(line);
  }
  for (const n of g.nodes) {
    const p = at.get(n.id);
    const sev = SEVERITIES.includes(n.severity) ? n.severity : "none";
    const group = svg("g", { class: "node node-" + n.kind.replace(/[^a-z]/g, "") + " sev-" + sev, transform: "translate(" + p.x + "," + p.y + ")" });
    group.append(svg("circle", { r: 8 }));
    group.append(svg("text", { x: 12, y: -9, class: "kind" }, n.kind));
    const label = n.label.length > 34 ? "…" + n.label.slice(-33) : n.label;
    group.append(svg("text", { x: 12, y: 17 }, label));
    group.append(svg("title", {}, n.kind + ": " + n.label + (n.severity ? " (" + n.severity + ")" : "")));
    drawing.append(group);
  }
  show(el("h1", null, "Neighbourhood of model ", link("#" + Number(id), "model", Number(id))),
    el("p", "muted", "Who can write where it lives → the place → the content → what loading it does."),
    g.nodes.length ? el("div", "graph-box", drawing) : el("p", "muted", "This model is not held anywhere now."));
}

// ---- routing -------------------------------------------------------------------------------

async function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, hashQuery] = hash.split("?");
  const parts = path.split("/").filter(Boolean);
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.hash.replace(/^#\/?/, "").split("/")[0] === (parts[0] || ""));
  }
  try {
    if (parts.length === 0) await overviewPage();
    else if (parts[0] === "models") await modelsPage(query(hashQuery));
    else if (parts[0] === "model" && /^\d+$/.test(parts[1] || "") && parts[2] === "graph") await graphPage(Number(parts[1]));
    else if (parts[0] === "model" && /^\d+$/.test(parts[1] || "")) await modelPage(Number(parts[1]));
    else if (parts[0] === "paths") await pathsPage();
    else if (parts[0] === "changes") await changesPage();
    else if (parts[0] === "jobs") await jobsPage();
    else if (parts[0] === "token") show(el("h1", null, "Token"), section("API token", tokenForm()));
    else show(el("h1", null, "Not found"), el("p", null, link("Back to the overview", "")));
    document.body.dataset.loaded = location.hash || "#/";
  } catch (err) {
    show(failure(err));
    document.body.dataset.loaded = "error";
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);
