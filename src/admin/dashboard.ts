/**
 * The dashboard at `GET /` of the admin port: one self-contained page (no
 * build step, no external assets) that polls `/status` every 1.5 s and
 * redraws in place — numbering, store health, runway, and a table of
 * sequences with last value, lease, rate and a rate sparkline of the last
 * 60 s. Sized for a wall screen (type scales with the viewport) and for a
 * phone (two-column cards, each sequence a compact block). When the server
 * stops answering the page says so at the top, greys out the last figures it
 * had and keeps retrying.
 *
 * The embedded script avoids backticks, `${` and backslashes, so that this
 * TypeScript template literal carries it unchanged.
 *
 * Hooks the browser test relies on: `#health`, `#numbering`, `#store .badge`,
 * `#rows`, rows `tr[data-sequence]` with a `td.last` cell.
 *
 * Over 400 lines on purpose: it is one document (markup, style and script
 * served as one string), and splitting it would only split that document.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<title>ticket-server</title>
<style>
  :root { color-scheme: dark; --bg:#0d1117; --panel:#161d26; --line:#2a3541; --text:#e9eef3; --dim:#93a1af; --ok:#3fb950; --bad:#ff6b61; --warn:#e3b341; --accent:#5cb0ff; }
  * { box-sizing: border-box; }
  /* Type grows with the screen: 15 px on a phone, about 17 px on a laptop, 20 px or more on a wall screen. */
  html { font-size: clamp(15px, 0.55vw + 10px, 26px); }
  body { margin: 0; font: 1rem/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; background: var(--bg); color: var(--text); -webkit-text-size-adjust: 100%; }
  header { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: .5rem 1.5rem; padding: .9rem 1.25rem; border-bottom: 1px solid var(--line); }
  .title, .state { display: flex; flex-wrap: wrap; align-items: baseline; gap: .25rem 1rem; }
  .state { align-items: center; }
  h1 { font-size: 1.5rem; margin: 0; letter-spacing: .01em; }
  .dim { color: var(--dim); }
  .banner { margin: 1rem 1.25rem 0; padding: .75rem 1rem; border-radius: .6rem; border: 1px solid rgba(255,107,97,.5); background: rgba(255,107,97,.12); color: #ffd2ce; font-weight: 500; }
  .banner strong { color: var(--bad); }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(12rem, 1fr)); gap: .75rem; padding: 1rem 1.25rem; }
  .card { background: var(--panel); border: 1px solid var(--line); border-radius: .6rem; padding: .7rem 1rem .8rem; min-width: 0; }
  .card .label { font-size: .78rem; text-transform: uppercase; letter-spacing: .07em; color: var(--dim); }
  .card .value { font-size: 1.75rem; font-weight: 600; font-variant-numeric: tabular-nums; margin-top: .15rem; line-height: 1.2; overflow-wrap: anywhere; }
  .card .value .badge { font-size: 1.1rem; vertical-align: middle; }
  .card .sub { font-size: .85rem; color: var(--dim); margin-top: .2rem; overflow-wrap: anywhere; }
  .card .sub.bad { color: var(--bad); }
  .card .sub.warn { color: var(--warn); }
  .card .unit { font-size: .55em; font-weight: 400; color: var(--dim); }
  .badge { display: inline-block; padding: .15rem .65rem; border-radius: 1rem; font-size: .9rem; font-weight: 700; white-space: nowrap; }
  .badge.ok { background: rgba(63,185,80,.16); color: var(--ok); }
  .badge.bad { background: rgba(255,107,97,.18); color: var(--bad); }
  .badge.warn { background: rgba(227,179,65,.16); color: var(--warn); }
  main { padding: 0 1.25rem 1.25rem; }
  .stale .cards, .stale main { opacity: .45; filter: grayscale(.7); transition: opacity .3s; }
  .table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: .6rem; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { padding: .6rem .9rem; text-align: right; white-space: nowrap; border-bottom: 1px solid var(--line); vertical-align: middle; }
  th { font-size: .78rem; text-transform: uppercase; letter-spacing: .06em; color: var(--dim); background: var(--panel); font-weight: 600; }
  th:first-child, td:first-child { text-align: left; }
  td.name { font-weight: 600; max-width: 22rem; overflow: hidden; text-overflow: ellipsis; }
  td.name small.definition { font-weight: 400; font-size: .8rem; color: var(--dim); white-space: nowrap; }
  td.last { font-size: 1.3rem; font-weight: 700; letter-spacing: .01em; }
  td.rate { color: var(--accent); font-weight: 600; }
  tr.idle td.rate, tr.idle td.name { color: var(--dim); }
  tbody tr:last-child td { border-bottom: 0; }
  td.spark-cell { width: 1%; padding-top: .3rem; padding-bottom: .3rem; }
  svg.spark { display: block; width: 10rem; height: 2.5rem; margin-left: auto; overflow: visible; }
  svg.spark .base { stroke: var(--line); stroke-width: 1; }
  svg.spark .area { fill: rgba(92,176,255,.18); stroke: none; }
  svg.spark .line { fill: none; stroke: var(--accent); stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; vector-effect: non-scaling-stroke; }
  svg.spark .dot { fill: var(--accent); }
  .empty { padding: 2rem 1rem; text-align: center; color: var(--dim); white-space: normal; }
  .empty strong { display: block; color: var(--text); font-size: 1.15rem; margin-bottom: .4rem; }
  .empty code { display: inline-block; margin-top: .5rem; padding: .3rem .6rem; border-radius: .4rem; background: var(--panel); color: var(--text); font-size: .85rem; overflow-wrap: anywhere; white-space: normal; text-align: left; }
  footer { padding: 0 1.25rem 1.25rem; font-size: .8rem; color: var(--dim); display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; }
  footer span { overflow-wrap: anywhere; }
  @media (max-width: 640px) {
    header { padding: .75rem; }
    h1 { font-size: 1.3rem; }
    .banner { margin: .75rem .75rem 0; }
    .cards { grid-template-columns: 1fr 1fr; gap: .5rem; padding: .75rem; }
    .cards .card:first-child { grid-column: 1 / -1; }
    .card { padding: .55rem .75rem .65rem; }
    .card .value { font-size: 1.3rem; }
    .card .value .badge { font-size: .95rem; }
    .card .sub { font-size: .8rem; }
    main { padding: 0 .75rem 1rem; }
    footer { padding: 0 .75rem 1rem; }
    /* Each sequence becomes a compact block: name and rate, then last value and sparkline, then issued and lease. */
    .table-wrap { overflow: visible; }
    thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
    table, tbody { display: block; }
    tbody tr { display: grid; grid-template-columns: minmax(0, 1fr) auto; align-items: center; gap: .15rem .75rem; padding: .6rem .75rem; border-bottom: 1px solid var(--line); }
    tbody tr:last-child { border-bottom: 0; }
    td { display: block; padding: 0; border: 0; }
    tbody tr { grid-template-areas: "name rate" "last spark" "issued lease"; }
    td.name { grid-area: name; max-width: none; font-size: 1.05rem; white-space: normal; overflow-wrap: anywhere; }
    td.last { grid-area: last; text-align: left; font-size: 1.5rem; white-space: normal; overflow-wrap: anywhere; }
    td.last.long { font-size: 1.05rem; }
    td.rate { grid-area: rate; text-align: right; font-size: 1rem; }
    td.rate::after { content: " /s"; color: var(--dim); font-weight: 400; font-size: .85rem; }
    td.spark-cell { grid-area: spark; width: auto; padding: 0; }
    td.issued { grid-area: issued; text-align: left; }
    td.lease { grid-area: lease; text-align: right; }
    td.issued, td.lease { font-size: .8rem; color: var(--dim); }
    td[data-label]::before { content: attr(data-label) " "; }
    svg.spark { width: 6rem; height: 1.5rem; }
    td.empty { grid-column: 1 / -1; padding: 1.5rem .5rem; }
    tbody tr.empty-row { display: block; }
  }
</style>
</head>
<body>
<header>
  <div class="title">
    <h1>ticket-server</h1>
    <span id="mode" class="dim">connecting…</span>
  </div>
  <div class="state">
    <span id="health" class="badge warn">connecting</span>
    <span id="updated" class="dim"></span>
  </div>
</header>
<div id="banner" class="banner" role="alert" hidden></div>
<section class="cards" aria-label="Summary">
  <div class="card"><div class="label">Numbering</div><div class="value" id="numbering">–</div><div class="sub" id="numbering-detail"></div></div>
  <div class="card"><div class="label">Store</div><div class="value" id="store">–</div><div class="sub" id="store-detail"></div></div>
  <div class="card" id="leader-card" hidden><div class="label">Leader</div><div class="value" id="leader">–</div><div class="sub" id="leader-detail"></div></div>
  <div class="card"><div class="label">Runway</div><div class="value" id="runway">–</div><div class="sub">held leases, if the store went away</div></div>
  <div class="card"><div class="label">Tickets / s</div><div class="value" id="rate">–</div><div class="sub">all sequences shown</div></div>
  <div class="card"><div class="label">Sequences</div><div class="value" id="count">–</div><div class="sub" id="count-detail">in use</div></div>
</section>
<main>
  <div class="table-wrap">
    <table>
      <thead><tr><th scope="col">Sequence</th><th scope="col">Last value</th><th scope="col">Issued</th><th scope="col">Rate / s</th><th scope="col">Lease left</th><th scope="col">Last 60 s</th></tr></thead>
      <tbody id="rows"><tr class="empty-row"><td colspan="6" class="empty">Connecting to the server…</td></tr></tbody>
    </table>
  </div>
</main>
<footer id="footer"></footer>
<noscript><p class="banner">This dashboard needs JavaScript. The same figures are at <a href="status">status</a> (JSON).</p></noscript>
<script>
"use strict";
const POLL_MS = 1500;
const TIMEOUT_MS = 3000;
const HISTORY = 40; // points per sparkline: 40 polls of 1.5 s = 60 s
const THIN = String.fromCharCode(0x202f); // narrow no-break space between digit groups
const history = new Map();
const $ = (id) => document.getElementById(id);
let lastOk = null;      // Date of the last good status
let failingSince = null; // Date of the first failure in the current run of failures

/** "1234567" → "1 234 567" (works on strings of any length, so on 64-bit values too). */
function group(text) {
  const s = String(text);
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if (i > 0 && (s.length - i) % 3 === 0) out += THIN;
    out += s[i];
  }
  return out;
}
function fmt(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return "–";
  const value = Number(n);
  if (Number.isInteger(value) || Math.abs(value) >= 100) return group(Math.round(value));
  const [whole, fraction] = value.toFixed(1).split(".");
  return fraction === "0" ? group(whole) : group(whole) + "." + fraction;
}
function bigint(text) {
  if (text === null || text === undefined || text === "") return "–";
  // Digits are grouped for reading; a formatted ticket (INV-2026-000123) is shown as issued.
  return /^[0-9]+$/.test(text) ? group(text) : text;
}
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "idle";
  if (seconds < 1) return "< 1 s";
  if (seconds < 120) return Math.round(seconds) + " s";
  if (seconds < 7200) return Math.round(seconds / 60) + " min";
  if (seconds < 172800) return Math.round(seconds / 3600) + " h";
  return Math.round(seconds / 86400) + " d";
}
function clock(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
function ago(date) {
  const seconds = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000));
  return seconds < 120 ? seconds + " s ago" : duration(seconds) + " ago";
}
/** A 60 s sparkline: the newest point at the right edge, older ones to its left, a baseline at zero. */
function spark(points) {
  const W = 160, H = 40, PAD = 3;
  const max = Math.max(1, ...points);
  const step = W / (HISTORY - 1);
  const start = HISTORY - points.length;
  const xy = points.map((p, i) => [(start + i) * step, H - PAD - (p / max) * (H - 2 * PAD)]);
  const line = xy.map((c) => c[0].toFixed(1) + "," + c[1].toFixed(1)).join(" ");
  const first = xy[0], last = xy[xy.length - 1];
  const area = first[0].toFixed(1) + "," + (H - PAD) + " " + line + " " + last[0].toFixed(1) + "," + (H - PAD);
  return '<svg class="spark" viewBox="0 0 ' + W + " " + H + '" preserveAspectRatio="none" role="img" aria-label="rate over the last 60 s, peak ' + fmt(max) + '/s">' +
    "<title>peak " + fmt(Math.max(...points)) + "/s over the last " + Math.round(points.length * POLL_MS / 1000) + " s</title>" +
    '<line class="base" x1="0" y1="' + (H - PAD) + '" x2="' + W + '" y2="' + (H - PAD) + '"/>' +
    '<polygon class="area" points="' + area + '"/>' +
    '<polyline class="line" points="' + line + '"/>' +
    '<circle class="dot" cx="' + last[0].toFixed(1) + '" cy="' + last[1].toFixed(1) + '" r="3"/></svg>';
}
function cell(text, cls, label) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  if (label) td.dataset.label = label;
  td.textContent = text;
  return td;
}
function emptyRow(html) {
  const body = $("rows");
  body.innerHTML = "";
  const tr = document.createElement("tr");
  tr.className = "empty-row";
  const td = document.createElement("td");
  td.colSpan = 6;
  td.className = "empty";
  td.innerHTML = html;
  tr.appendChild(td);
  body.appendChild(tr);
}
function escapeHtml(text) {
  const div = document.createElement("div");
  div.textContent = String(text);
  return div.innerHTML;
}
function httpUrl(status) {
  const url = status.endpoints && status.endpoints.http;
  if (!url) return null;
  try {
    const parsed = new URL(url);
    if (parsed.hostname === "0.0.0.0" || parsed.hostname === "::" || parsed.hostname === "[::]") parsed.hostname = location.hostname;
    return parsed.origin;
  } catch (error) {
    return null;
  }
}
function renderHeader(status) {
  $("mode").textContent = status.mode === "proxy"
    ? "proxy for " + (status.upstreams || []).length + " upstream(s), version " + status.version
    : (status.leader ? "server in leader mode" : "server") + ", version " + status.version;
  $("health").textContent = status.ready ? "ready" : "not ready";
  $("health").className = "badge " + (status.ready ? "ok" : "bad");
  $("updated").textContent = "updated " + clock(lastOk);
  document.title = (status.ready ? "" : "not ready · ") + "ticket-server";
}
function renderLeader(status) {
  const card = $("leader-card");
  const l = status.leader;
  card.hidden = !l;
  if (!l) return;
  const value = $("leader");
  const detail = $("leader-detail");
  const since = l.since ? new Date(l.since) : null;
  const sinceText = since && !isNaN(since) ? " since " + since.toLocaleString() : "";
  value.textContent = "";
  const badge = document.createElement("span");
  if (l.role === "leader") {
    badge.className = "badge " + (l.issuing ? "ok" : "bad");
    badge.textContent = l.issuing ? "this server leads" : "leading, not renewed";
    detail.textContent = "issuing" + sinceText;
    detail.className = "sub";
  } else if (l.id) {
    badge.className = "badge ok";
    badge.textContent = "following";
    detail.textContent = (l.http || l.zmq || l.id) + sinceText;
    detail.className = "sub";
  } else {
    badge.className = "badge bad";
    badge.textContent = "no leader";
    detail.textContent = "an election is under way; requests fail until a leader is known";
    detail.className = "sub warn";
  }
  value.appendChild(badge);
}
function renderCards(status) {
  renderLeader(status);
  const n = status.numbering;
  const numbering = $("numbering");
  numbering.textContent = "";
  if (n) {
    const unit = document.createElement("span");
    unit.className = "unit";
    unit.textContent = "instance";
    numbering.append(unit, " " + n.instance + " of " + n.instances);
  } else {
    numbering.textContent = "–";
  }
  $("numbering-detail").textContent = n ? "offset " + bigint(n.offset) + (n.instances > 1 ? ", step " + n.instances : "") : "";
  const store = $("store");
  store.innerHTML = "";
  const badge = document.createElement("span");
  const detail = $("store-detail");
  detail.className = "sub";
  if (status.store) {
    badge.className = "badge " + (status.store.ok ? "ok" : "bad");
    badge.textContent = status.store.kind + (status.store.ok ? " ok" : " down");
    if (!status.store.ok) {
      detail.className = "sub bad";
      detail.textContent = status.store.detail || "the store does not answer";
    } else {
      detail.textContent = status.store.durable ? "durable" : "not durable: values repeat after a restart";
      if (!status.store.durable) detail.className = "sub warn";
    }
  } else {
    const ups = status.upstreams || [];
    const up = ups.filter((u) => u.up).length;
    badge.className = "badge " + (up === ups.length && up > 0 ? "ok" : up > 0 ? "warn" : "bad");
    badge.textContent = up + " of " + ups.length + " up";
    detail.textContent = "upstream servers";
  }
  store.appendChild(badge);
  $("runway").textContent = duration(status.runway_seconds);
  $("count").textContent = fmt(status.sequence_count);
  $("count-detail").textContent = status.sequences.length < status.sequence_count
    ? "showing the " + status.sequences.length + " busiest"
    : "in use";
}
function renderRows(status) {
  const seen = new Set();
  let total = 0;
  const rows = document.createDocumentFragment();
  for (const s of status.sequences) {
    seen.add(s.name);
    total += s.rate;
    const points = history.get(s.name) || [];
    points.push(s.rate);
    if (points.length > HISTORY) points.shift();
    history.set(s.name, points);
    const tr = document.createElement("tr");
    tr.dataset.sequence = s.name;
    if (!(s.rate > 0)) tr.className = "idle";
    const name = cell(s.name, "name");
    name.title = s.name;
    if (s.settings) {
      // A defined sequence: how its numbers look and count, under its name.
      const parts = [s.settings.format || (s.settings.check !== "none" ? "{value}{check}" : "")];
      if (s.settings.period !== "none") parts.push(s.settings.period + (s.period ? " " + s.period : "") + " (" + s.settings.timezone + ")");
      if (s.settings.check !== "none") parts.push(s.settings.check);
      if (s.settings.max !== null) parts.push("max " + group(s.settings.max));
      const definition = document.createElement("small");
      definition.className = "definition";
      definition.textContent = parts.filter((part) => part).join(" · ");
      name.appendChild(document.createElement("br"));
      name.appendChild(definition);
      name.title = s.name + "\\n" + definition.textContent;
    }
    tr.appendChild(name);
    const last = cell(bigint(s.last_value), s.last_value !== null && s.last_value.length > 12 ? "last long" : "last");
    if (s.last_value !== null) {
      last.dataset.value = s.last_value;
      last.title = s.last_value;
    }
    tr.appendChild(last);
    tr.appendChild(cell(fmt(s.issued), "issued", "issued"));
    tr.appendChild(cell(fmt(s.rate), "rate"));
    tr.appendChild(cell(bigint(s.lease_remaining), "lease", "lease left"));
    const sparkCell = document.createElement("td");
    sparkCell.className = "spark-cell";
    sparkCell.innerHTML = spark(points);
    tr.appendChild(sparkCell);
    rows.appendChild(tr);
  }
  for (const name of [...history.keys()]) if (!seen.has(name)) history.delete(name);
  $("rate").textContent = fmt(total);
  if (status.sequences.length > 0) {
    const body = $("rows");
    body.innerHTML = "";
    body.appendChild(rows);
  } else if (status.mode === "proxy") {
    const ups = (status.upstreams || []).map((u) =>
      escapeHtml(u.uri) + " — " + (u.up ? "up" : "down") + ", " + fmt(u.requests) + " requests, " + fmt(u.failures) + " failures");
    emptyRow("<strong>Proxy mode</strong>Sequences live on the upstream servers; open their dashboards for numbers." +
      (ups.length ? "<br>" + ups.join("<br>") : ""));
  } else {
    const http = httpUrl(status);
    emptyRow("<strong>No sequence has issued a ticket yet</strong>Rows appear here as soon as clients ask for numbers." +
      (http ? "<br><code>curl " + (status.leader ? "-L " : "") + "-X POST " + escapeHtml(http) + "/v1/sequences/orders/next</code>" : ""));
  }
}
function renderFooter(status) {
  const footer = $("footer");
  footer.innerHTML = "";
  const names = { http: "HTTP", zmq: "ZeroMQ", admin: "admin", tcp: "TCP", line: "line" };
  for (const [key, value] of Object.entries(status.endpoints || {})) {
    const span = document.createElement("span");
    span.textContent = (names[key] || key) + " " + value;
    footer.appendChild(span);
  }
  if (typeof status.uptime_seconds === "number") {
    const span = document.createElement("span");
    span.textContent = "up " + duration(status.uptime_seconds);
    footer.appendChild(span);
  }
}
function render(status) {
  if (!status || !Array.isArray(status.sequences)) throw new Error("unexpected status document");
  lastOk = new Date();
  failingSince = null;
  $("banner").hidden = true;
  document.body.classList.remove("stale");
  renderHeader(status);
  renderCards(status);
  renderRows(status);
  renderFooter(status);
}
function failed(reason) {
  if (!failingSince) failingSince = new Date();
  $("health").textContent = "unreachable";
  $("health").className = "badge bad";
  $("updated").textContent = lastOk ? "last update " + clock(lastOk) + " (" + ago(lastOk) + ")" : "no data yet";
  document.title = "unreachable · ticket-server";
  document.body.classList.add("stale");
  const banner = $("banner");
  banner.hidden = false;
  banner.innerHTML = "<strong>Cannot reach the server</strong> since " + escapeHtml(clock(failingSince)) + " (" + escapeHtml(reason) + "). " +
    (lastOk ? "The figures below are from " + escapeHtml(clock(lastOk)) + " and may be out of date. " : "") +
    "Retrying every " + (POLL_MS / 1000) + " s.";
  if (!lastOk) emptyRow("<strong>No data yet</strong>Waiting for the server to answer.");
}
async function poll() {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    const response = await fetch("status?limit=100", { cache: "no-store", signal: controller.signal });
    if (!response.ok) throw new Error("HTTP " + response.status);
    render(await response.json());
  } catch (error) {
    const reason = error && error.name === "AbortError" ? "no answer within " + (TIMEOUT_MS / 1000) + " s"
      : error && error.message ? error.message : "network error";
    failed(reason);
  } finally {
    clearTimeout(timer);
    setTimeout(poll, POLL_MS);
  }
}
poll();
</script>
</body>
</html>
`;
