/**
 * The dashboard at `GET /` of the admin port: one self-contained page (no
 * build step, no external assets) that polls `/status` every 1.5 s and
 * redraws in place — numbering, store health, runway, and a table of
 * sequences with last value, lease, rate and a rate sparkline. Readable on a
 * wall screen and on a phone.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ticket-server</title>
<style>
  :root { color-scheme: dark; --bg:#0f1419; --panel:#182029; --line:#26313d; --text:#e6edf3; --dim:#8b98a5; --ok:#3fb950; --bad:#f85149; --warn:#d29922; --accent:#58a6ff; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .5rem 1.5rem; padding: 1rem 1.25rem; border-bottom: 1px solid var(--line); }
  h1 { font-size: 1.4rem; margin: 0; letter-spacing: .02em; }
  .dim { color: var(--dim); }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(11rem, 1fr)); gap: .75rem; padding: 1rem 1.25rem; }
  .card { background: var(--panel); border: 1px solid var(--line); border-radius: .6rem; padding: .75rem 1rem; }
  .card .label { font-size: .8rem; text-transform: uppercase; letter-spacing: .06em; color: var(--dim); }
  .card .value { font-size: 1.6rem; font-variant-numeric: tabular-nums; margin-top: .2rem; overflow-wrap: anywhere; }
  .badge { display: inline-block; padding: .1rem .55rem; border-radius: 1rem; font-size: .85rem; font-weight: 600; }
  .badge.ok { background: rgba(63,185,80,.15); color: var(--ok); }
  .badge.bad { background: rgba(248,81,73,.15); color: var(--bad); }
  .badge.warn { background: rgba(210,153,34,.15); color: var(--warn); }
  main { padding: 0 1.25rem 1.5rem; }
  .table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: .6rem; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { padding: .55rem .8rem; text-align: right; white-space: nowrap; border-bottom: 1px solid var(--line); }
  th { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: var(--dim); background: var(--panel); position: sticky; top: 0; }
  th:first-child, td:first-child { text-align: left; }
  td.name { max-width: 18rem; overflow: hidden; text-overflow: ellipsis; }
  tr:last-child td { border-bottom: 0; }
  svg.spark { width: 7.5rem; height: 1.6rem; vertical-align: middle; }
  svg.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
  .empty { padding: 1.5rem; text-align: center; color: var(--dim); }
  footer { padding: 0 1.25rem 1rem; font-size: .8rem; color: var(--dim); }
  @media (max-width: 640px) {
    body { font-size: 15px; }
    .card .value { font-size: 1.25rem; }
    th, td { padding: .45rem .5rem; }
    .hide-narrow { display: none; }
  }
</style>
</head>
<body>
<header>
  <h1>ticket-server</h1>
  <span id="mode" class="dim">connecting…</span>
  <span id="health" class="badge warn">…</span>
  <span id="updated" class="dim"></span>
</header>
<section class="cards">
  <div class="card"><div class="label">Numbering</div><div class="value" id="numbering">–</div></div>
  <div class="card"><div class="label">Store</div><div class="value" id="store">–</div></div>
  <div class="card"><div class="label">Runway</div><div class="value" id="runway">–</div></div>
  <div class="card"><div class="label">Tickets / s</div><div class="value" id="rate">–</div></div>
  <div class="card"><div class="label">Sequences</div><div class="value" id="count">–</div></div>
</section>
<main>
  <div class="table-wrap">
    <table>
      <thead><tr><th>Sequence</th><th>Last value</th><th class="hide-narrow">Issued</th><th>Rate / s</th><th class="hide-narrow">Lease left</th><th>Last 60 s</th></tr></thead>
      <tbody id="rows"><tr><td colspan="6" class="empty">No sequence used yet.</td></tr></tbody>
    </table>
  </div>
</main>
<footer id="footer"></footer>
<script>
"use strict";
const history = new Map();
const $ = (id) => document.getElementById(id);
const fmt = (n) => n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US", { maximumFractionDigits: 1 });
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "idle";
  if (seconds < 1) return "< 1 s";
  if (seconds < 120) return Math.round(seconds) + " s";
  if (seconds < 7200) return Math.round(seconds / 60) + " min";
  return Math.round(seconds / 3600) + " h";
}
function spark(points) {
  const max = Math.max(1, ...points);
  const step = points.length > 1 ? 100 / (points.length - 1) : 100;
  const coords = points.map((p, i) => (i * step).toFixed(1) + "," + (28 - (p / max) * 26).toFixed(1)).join(" ");
  return '<svg class="spark" viewBox="0 0 100 30" preserveAspectRatio="none" aria-hidden="true"><polyline points="' + coords + '"/></svg>';
}
function cell(text, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  td.textContent = text;
  return td;
}
function render(status) {
  $("mode").textContent = status.mode === "proxy" ? "proxy for " + status.upstreams.length + " upstream(s)" : "server, version " + status.version;
  const healthy = status.ready;
  $("health").textContent = healthy ? "ready" : "not ready";
  $("health").className = "badge " + (healthy ? "ok" : "bad");
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  const n = status.numbering;
  $("numbering").textContent = n ? "instance " + n.instance + " of " + n.instances + ", offset " + n.offset : "–";
  if (status.store) {
    $("store").innerHTML = "";
    const badge = document.createElement("span");
    badge.className = "badge " + (status.store.ok ? "ok" : "bad");
    badge.textContent = status.store.kind + (status.store.ok ? " ok" : " down");
    $("store").appendChild(badge);
  } else {
    $("store").textContent = (status.upstreams || []).filter((u) => u.up).length + " of " + (status.upstreams || []).length + " up";
  }
  $("runway").textContent = duration(status.runway_seconds);
  $("count").textContent = fmt(status.sequence_count);
  let total = 0;
  const rows = document.createDocumentFragment();
  for (const s of status.sequences) {
    total += s.rate;
    const points = history.get(s.name) || [];
    points.push(s.rate);
    if (points.length > 40) points.shift();
    history.set(s.name, points);
    const tr = document.createElement("tr");
    tr.dataset.sequence = s.name;
    tr.appendChild(cell(s.name, "name"));
    tr.appendChild(cell(s.last_value === null ? "–" : s.last_value, "last"));
    tr.appendChild(cell(fmt(s.issued), "hide-narrow"));
    tr.appendChild(cell(fmt(s.rate)));
    tr.appendChild(cell(s.lease_remaining, "hide-narrow"));
    const sparkCell = document.createElement("td");
    sparkCell.innerHTML = spark(points);
    tr.appendChild(sparkCell);
    rows.appendChild(tr);
  }
  $("rate").textContent = fmt(total);
  const body = $("rows");
  body.innerHTML = "";
  if (status.sequences.length === 0) body.innerHTML = '<tr><td colspan="6" class="empty">No sequence used yet.</td></tr>';
  else body.appendChild(rows);
  $("footer").textContent = status.sequences.length < status.sequence_count
    ? "Showing the " + status.sequences.length + " busiest of " + status.sequence_count + " sequences."
    : "";
}
async function poll() {
  try {
    const response = await fetch("status?limit=100", { cache: "no-store" });
    render(await response.json());
  } catch (error) {
    $("health").textContent = "unreachable";
    $("health").className = "badge bad";
  } finally {
    setTimeout(poll, 1500);
  }
}
poll();
</script>
</body>
</html>
`;
