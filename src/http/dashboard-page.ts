/**
 * The dashboard page: HTML, CSS and script inline (no external assets; bundled into the
 * executable as this string). Everything from the daemon is put in the page as text nodes,
 * never as markup (host names and stderr lines are untrusted).
 * @module
 */

/** The whole page. */
export const DASHBOARD_PAGE = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mcp-mux dashboard</title>
<style>
:root { color-scheme: light dark; --bg:#0f1419; --card:#171d24; --fg:#e6e6e6; --dim:#8b949e; --line:#2a323c; --ok:#3fb950; --warn:#d29922; --bad:#f85149; --acc:#58a6ff; --acc2:#bc8cff; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 ui-sans-serif, system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; align-items:center; gap:16px; padding:12px 20px; border-bottom:1px solid var(--line); }
header h1 { font-size:16px; margin:0; }
header .dim { color:var(--dim); }
#live { width:10px; height:10px; border-radius:50%; background:var(--dim); display:inline-block; }
#live.on { background:var(--ok); }
main { padding:16px 20px; display:grid; gap:16px; }
.services { display:grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap:16px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
.card h2 { font-size:15px; margin:0 0 6px; display:flex; gap:8px; align-items:center; }
.state { font-size:12px; padding:1px 8px; border-radius:10px; border:1px solid currentColor; }
.s-ready { color:var(--ok); } .s-starting, .s-restarting, .s-lazy { color:var(--warn); } .s-failed, .s-stopped { color:var(--bad); }
.kv { display:grid; grid-template-columns: repeat(4, auto); gap:2px 14px; font-size:12px; color:var(--dim); }
.kv b { color:var(--fg); font-weight:600; }
.chips { display:flex; flex-wrap:wrap; gap:6px; margin:8px 0; }
.chip { background:#1f2933; border:1px solid var(--line); border-radius:12px; padding:1px 9px; font-size:12px; }
.chip .dim { color:var(--dim); }
svg { width:100%; height:70px; background:#11161c; border-radius:4px; }
.charts { display:grid; grid-template-columns:1fr 1fr; gap:8px; margin-top:6px; }
.charts .lbl { font-size:11px; color:var(--dim); display:flex; justify-content:space-between; }
pre { margin:4px 0 0; max-height:120px; overflow:auto; font:12px/1.35 ui-monospace, SFMono-Regular, Menlo, monospace; background:#11161c; padding:6px; border-radius:4px; white-space:pre-wrap; word-break:break-all; }
details summary { cursor:pointer; color:var(--dim); font-size:12px; margin-top:6px; }
table { width:100%; border-collapse:collapse; font:12px ui-monospace, SFMono-Regular, Menlo, monospace; }
th, td { text-align:left; padding:3px 6px; border-bottom:1px solid var(--line); white-space:nowrap; }
td.m { white-space:normal; }
tr.err td { color:var(--bad); }
.filters { display:flex; gap:8px; flex-wrap:wrap; margin-bottom:8px; align-items:center; }
input, select { background:#11161c; color:var(--fg); border:1px solid var(--line); border-radius:4px; padding:3px 6px; font:inherit; }
#msg { color:var(--warn); }
.in { color:var(--acc); } .out { color:var(--acc2); }
.scroll { max-height:360px; overflow:auto; }
</style>
</head>
<body>
<header>
  <span id="live" title="live"></span>
  <h1>mcp-mux</h1>
  <span class="dim" id="summary">connecting…</span>
  <span id="msg"></span>
</header>
<main>
  <section class="services" id="services"></section>
  <section class="card">
    <h2>Recent traffic</h2>
    <div class="filters">
      <select id="f-service"><option value="">all services</option></select>
      <input id="f-client" placeholder="client">
      <input id="f-method" placeholder="method">
      <label><input type="checkbox" id="f-errors"> errors only</label>
      <span class="dim" id="f-count"></span>
    </div>
    <div class="scroll"><table>
      <thead><tr><th>time</th><th>service</th><th>client</th><th></th><th>kind</th><th>method</th><th>id</th><th>ms</th><th>outcome</th><th>bytes</th></tr></thead>
      <tbody id="traffic"></tbody>
    </table></div>
  </section>
</main>
<script>
(function () {
  "use strict";
  var KEY = "mcp-mux-dashboard-token";
  var m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (m) {
    try { sessionStorage.setItem(KEY, decodeURIComponent(m[1])); } catch (e) {}
    history.replaceState(null, "", location.pathname + location.search);
  }
  var token = null;
  try { token = sessionStorage.getItem(KEY); } catch (e) {}
  var headers = token ? { authorization: "Bearer " + token } : {};
  var traffic = [];
  var MAX_ROWS = 1000;
  var byId = function (id) { return document.getElementById(id); };

  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "cls") e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    for (var i = 2; i < arguments.length; i++) if (arguments[i] != null) e.appendChild(typeof arguments[i] === "string" ? document.createTextNode(arguments[i]) : arguments[i]);
    return e;
  }
  function ago(ms) {
    if (ms == null) return "-";
    var s = Math.round(ms / 1000);
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m";
    return Math.floor(s / 3600) + "h" + Math.floor((s % 3600) / 60) + "m";
  }
  function time(t) { return new Date(t).toISOString().slice(11, 23); }
  function kv(parent, k, v) { parent.appendChild(el("span", null, k + " ", el("b", { text: String(v) }))); }

  function chart(points, idx, color, unit) {
    var NS = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 300 70");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("data-points", String(points.length));
    var vals = points.map(function (p) { return p[idx] == null ? 0 : p[idx]; });
    var max = Math.max(1, Math.max.apply(null, vals.concat([0])));
    var n = Math.max(vals.length, 2);
    var d = vals.map(function (v, i) { return (i * 300 / (n - 1)).toFixed(1) + "," + (66 - v / max * 60).toFixed(1); }).join(" ");
    var pl = document.createElementNS(NS, "polyline");
    pl.setAttribute("points", d || "0,66 300,66");
    pl.setAttribute("fill", "none");
    pl.setAttribute("stroke", color);
    pl.setAttribute("stroke-width", "1.5");
    svg.appendChild(pl);
    var t = document.createElementNS(NS, "text");
    t.setAttribute("x", "4"); t.setAttribute("y", "12"); t.setAttribute("fill", "#8b949e"); t.setAttribute("font-size", "10");
    t.textContent = "max " + (Math.round(max * 10) / 10) + unit;
    svg.appendChild(t);
    return svg;
  }

  function renderServices(services) {
    var box = byId("services");
    box.textContent = "";
    var sel = byId("f-service");
    var chosen = sel.value;
    while (sel.options.length > 1) sel.remove(1);
    var clients = 0, rps = 0;
    services.forEach(function (s) {
      sel.appendChild(el("option", { value: s.service, text: s.service }));
      clients += s.connectedClients || 0;
      var last = s.series.length ? s.series[s.series.length - 1] : null;
      if (last) rps += last[1];
      var card = el("div", { cls: "card", "data-service": s.service });
      card.appendChild(el("h2", null, el("span", { text: s.service }), el("span", { cls: "state s-" + s.state, text: s.state })));
      var k = el("div", { cls: "kv" });
      kv(k, "mode", s.mode);
      kv(k, "pid", s.childPid == null ? (s.childPids && s.childPids.length ? s.childPids.join(",") : "-") : s.childPid);
      kv(k, "uptime", ago(s.childUptimeMs != null ? s.childUptimeMs : s.uptimeMs));
      kv(k, "restarts", s.restarts);
      var total = el("span", null, "requests ", el("b", { cls: "requests", text: String(s.requestsTotal) }));
      k.appendChild(total);
      var rate = el("span", null, "req/s ", el("b", { cls: "rps", text: last ? String(last[1]) : "0" }));
      k.appendChild(rate);
      kv(k, "pending", s.pendingRequests);
      kv(k, "queued", s.queuedRequests);
      card.appendChild(k);
      if (s.lastRestartReason) card.appendChild(el("div", { cls: "dim", style: "font-size:12px;color:var(--warn);margin-top:4px", text: "last restart: " + s.lastRestartReason }));
      if (s.failReason) card.appendChild(el("div", { style: "font-size:12px;color:var(--bad)", text: "failed: " + s.failReason }));
      var chips = el("div", { cls: "chips clients" });
      (s.clients || []).forEach(function (c) {
        chips.appendChild(el("span", { cls: "chip client", title: (c.workspace || "") },
          el("span", { cls: "host", text: c.name || "(unnamed)" }),
          el("span", { cls: "dim", text: " #" + c.id + " " + c.transport + " · " + ago(c.connectedMs) + (c.idle ? " · idle" : "") })));
      });
      if (!(s.clients || []).length) chips.appendChild(el("span", { cls: "dim", style: "font-size:12px", text: "no clients" }));
      card.appendChild(chips);
      if (s.workspaces && s.workspaces.length) {
        var ws = el("div", { cls: "chips" });
        s.workspaces.forEach(function (w) {
          ws.appendChild(el("span", { cls: "chip", text: w.dir + " · " + w.state + " · " + w.clients + " clients · pid " + (w.pid == null ? "-" : w.pid) }));
        });
        card.appendChild(el("div", { style: "font-size:12px;color:var(--dim)", text: "workspaces" }));
        card.appendChild(ws);
      }
      var charts = el("div", { cls: "charts" });
      charts.appendChild(el("div", null, el("div", { cls: "lbl" }, el("span", { text: "requests/s, last 5 min" })), chart(s.series, 1, "#58a6ff", "/s")));
      charts.appendChild(el("div", null, el("div", { cls: "lbl" }, el("span", { text: "mean latency (ms)" })), chart(s.series, 2, "#bc8cff", "ms")));
      card.appendChild(charts);
      var restarts = (s.events || []).filter(function (e) { return /restart|exited|failed|reload/.test(e.text || ""); });
      var ev = el("details", restarts.length ? { open: "" } : null, el("summary", { text: "events (" + (s.events || []).length + ")" }));
      ev.appendChild(el("pre", { cls: "events", text: (s.events || []).map(function (e) { return time(e.t) + "  " + e.text; }).join("\n") || "none" }));
      card.appendChild(ev);
      var er = el("details", null, el("summary", { text: "stderr tail (" + (s.stderr || []).length + ")" }));
      er.appendChild(el("pre", { text: (s.stderr || []).map(function (e) { return time(e.t) + "  " + e.text; }).join("\n") || "none" }));
      card.appendChild(er);
      box.appendChild(card);
    });
    sel.value = chosen;
    byId("summary").textContent = services.length + " services · " + clients + " clients · " + rps + " req/s · " + new Date().toLocaleTimeString();
  }

  function renderTraffic() {
    var fs = byId("f-service").value, fc = byId("f-client").value.toLowerCase(), fm = byId("f-method").value.toLowerCase(), fe = byId("f-errors").checked;
    var body = byId("traffic");
    body.textContent = "";
    var shown = 0;
    for (var i = traffic.length - 1; i >= 0 && shown < 300; i--) {
      var e = traffic[i];
      if (fs && e.service !== fs) continue;
      var name = e.client && e.client.name || "";
      if (fc && name.toLowerCase().indexOf(fc) < 0) continue;
      if (fm && (e.method || "").toLowerCase().indexOf(fm) < 0) continue;
      if (fe && e.code == null) continue;
      shown++;
      body.appendChild(el("tr", { cls: e.code != null ? "err" : "" },
        el("td", { text: time(e.t) }), el("td", { text: e.service }),
        el("td", { text: (name || "?") + (e.client ? "#" + e.client.id : "") }),
        el("td", { cls: e.dir === "in" ? "in" : "out", text: e.dir === "in" ? "→" : "←" }),
        el("td", { text: e.kind || "" }), el("td", { cls: "m", text: e.method || "" }), el("td", { text: e.id || "" }),
        el("td", { text: e.ms == null ? "" : String(e.ms) }), el("td", { text: e.code == null ? (e.kind === "response" ? "ok" : "") : "error " + e.code }),
        el("td", { text: String(e.bytes || "") })));
    }
    byId("f-count").textContent = shown + " shown of " + traffic.length;
  }
  ["f-service", "f-client", "f-method", "f-errors"].forEach(function (id) { byId(id).addEventListener("input", renderTraffic); });

  function apply(state) {
    if (state.full) traffic = state.traffic.slice();
    else traffic = traffic.concat(state.traffic);
    if (traffic.length > MAX_ROWS) traffic = traffic.slice(traffic.length - MAX_ROWS);
    renderServices(state.services);
    renderTraffic();
    if (state.dropped) byId("msg").textContent = state.dropped + " messages not shown (too many per second)";
  }

  function fail(text) {
    byId("live").className = "";
    byId("msg").textContent = text;
  }

  function stream() {
    fetch("/dashboard/api/events", { headers: headers, cache: "no-store" }).then(function (res) {
      if (res.status === 401) return fail("this page needs the daemon's token: open the link that mux dashboard prints");
      if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
      byId("live").className = "on";
      byId("msg").textContent = "";
      var reader = res.body.getReader();
      var decoder = new TextDecoder();
      var buf = "";
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) throw new Error("stream ended");
          buf += decoder.decode(r.value, { stream: true });
          var at;
          while ((at = buf.indexOf("\n\n")) >= 0) {
            var chunk = buf.slice(0, at);
            buf = buf.slice(at + 2);
            var data = chunk.split("\n").filter(function (l) { return l.indexOf("data: ") === 0; }).map(function (l) { return l.slice(6); }).join("\n");
            if (data) apply(JSON.parse(data));
          }
          return pump();
        });
      }
      return pump();
    }).catch(function (e) {
      fail("reconnecting… (" + e.message + ")");
      setTimeout(start, 2000);
    });
  }

  function start() {
    fetch("/dashboard/api/state", { headers: headers, cache: "no-store" }).then(function (res) {
      if (res.status === 401) return fail("this page needs the daemon's token: open the link that mux dashboard prints");
      if (!res.ok) throw new Error("HTTP " + res.status);
      return res.json().then(function (state) { apply(state); stream(); });
    }).catch(function (e) {
      fail("the daemon does not answer (" + e.message + "); retrying");
      setTimeout(start, 2000);
    });
  }
  start();
})();
</script>
</body>
</html>
`;
