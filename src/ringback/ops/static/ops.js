/* Ringback operations dashboard: plain JavaScript over /api/ops/v1 (the session cookie signs the
   requests), charts drawn as inline SVG. No dependencies, works offline. */
(function () {
  "use strict";

  var body = document.body;
  var TZ = body.dataset.timezone || "UTC";
  var SVGNS = "http://www.w3.org/2000/svg";

  // ---- helpers ---------------------------------------------------------------------------------
  var api = window.Ringback.api, getJSON = window.Ringback.request, el = window.Ringback.el;
  function svg(tag, attrs) {
    var node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  var nf = new Intl.NumberFormat();
  function num(n) { return nf.format(n); }
  function pct(r) { return r == null ? "–" : (Math.round(r * 1000) / 10) + "%"; }
  var dayFmt = new Intl.DateTimeFormat(undefined, { timeZone: TZ, weekday: "short", day: "numeric", month: "short" });
  var hourFmt = new Intl.DateTimeFormat(undefined, { timeZone: TZ, hour: "2-digit", minute: "2-digit" });
  var dateFmt = new Intl.DateTimeFormat(undefined, { timeZone: TZ, day: "numeric", month: "short", year: "numeric" });
  var fullFmt = new Intl.DateTimeFormat(undefined, { timeZone: TZ, dateStyle: "medium", timeStyle: "medium" });
  function when(iso) { return iso ? fullFmt.format(new Date(iso)) : "–"; }
  function ago(iso) {
    var s = (Date.now() - new Date(iso).getTime()) / 1000;
    if (s < 60) return "just now";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }
  // The UTC instant of local midnight of a yyyy-mm-dd date in the restaurant's timezone.
  function zonedMidnight(dateStr) {
    var p = dateStr.split("-").map(Number);
    var guess = Date.UTC(p[0], p[1] - 1, p[2]);
    for (var i = 0; i < 2; i++) {
      var parts = {};
      new Intl.DateTimeFormat("en-US", { timeZone: TZ, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
        .formatToParts(new Date(guess)).forEach(function (x) { parts[x.type] = x.value; });
      var asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
      guess -= asUtc - Date.UTC(p[0], p[1] - 1, p[2]);
    }
    return new Date(guess).toISOString();
  }
  function nextDay(dateStr) {
    var d = new Date(dateStr + "T00:00:00Z"); d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString().slice(0, 10);
  }
  function outcomeClass(o) {
    if (!o) return "b-none";
    if (o === "SENT") return "b-sent";
    if (o === "QUEUED") return "b-queued";
    if (o === "FAILED") return "b-failed";
    return "b-skipped";
  }
  function outcomeLabel(o) {
    if (!o) return "not decided";
    var t = o.replace("SKIPPED_", "").replace(/_/g, " ").toLowerCase();
    t = t.charAt(0).toUpperCase() + t.slice(1);
    return o.indexOf("SKIPPED_") === 0 ? "Skipped · " + t.toLowerCase() : t;
  }
  function cap(s) { return s ? s.charAt(0).toUpperCase() + s.slice(1) : s; }

  // ---- statistics: KPIs, chart, funnel, recovery ring --------------------------------------------
  var range = "7d";
  function statsParams() {
    var now = new Date();
    if (range === "48h") return { bucket: "hour", from: new Date(now - 48 * 3600e3).toISOString() };
    if (range === "30d") return { bucket: "day", from: new Date(now - 30 * 86400e3).toISOString() };
    return { bucket: "day" };
  }
  function loadStats() {
    return getJSON(api("/stats", statsParams())).then(function (j) { renderStats(j.data); })
      .catch(function (e) { document.getElementById("chart").textContent = "Statistics are unavailable: " + e.message; });
  }
  function groups(b) {
    var o = b.outcomes, skipped = 0;
    Object.keys(o).forEach(function (k) { if (k.indexOf("SKIPPED_") === 0) skipped += o[k]; });
    var decided = (o.SENT || 0) + (o.QUEUED || 0) + (o.FAILED || 0) + skipped;
    return [
      { key: "sent", label: "Texted", v: o.SENT || 0 },
      { key: "queued", label: "Queued", v: o.QUEUED || 0 },
      { key: "failed", label: "Failed", v: o.FAILED || 0 },
      { key: "skipped", label: "Skipped", v: skipped },
      { key: "other", label: "Answered / other", v: Math.max(0, b.calls - decided) }
    ];
  }
  var COLORS = { sent: "#16a34a", queued: "#d97706", failed: "#dc2626", skipped: "#94a3b8", other: "#bfdbfe" };
  function renderStats(d) {
    var t = d.totals;
    document.getElementById("kpi-calls").textContent = num(t.calls);
    document.getElementById("kpi-range").textContent = range === "48h" ? "last 48 hours" : range === "30d" ? "last 30 days" : "last 7 days";
    document.getElementById("kpi-missed").textContent = num(t.missed);
    document.getElementById("kpi-missed-share").textContent = t.calls ? pct(t.missed / t.calls) + " of calls" : "\u00a0";
    document.getElementById("kpi-sent").textContent = num(t.messages.sent);
    document.getElementById("kpi-failed").textContent = t.messages.failed ? num(t.messages.failed) + " failed" : "none failed";
    document.getElementById("kpi-delivery").textContent = pct(t.delivery_rate);
    document.getElementById("kpi-recovery").textContent = pct(t.recovery_rate);
    document.getElementById("kpi-recovered").textContent = num(t.recovered) + " guests reached";
    drawChart(d);
    drawFunnel(t);
    drawRing(t.recovery_rate);
  }
  function drawChart(d) {
    var host = document.getElementById("chart");
    host.textContent = "";
    var W = 760, H = 300, L = 36, R = 8, T = 10, B = 26;
    var s = svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none" });
    var max = 1;
    d.buckets.forEach(function (b) { max = Math.max(max, b.calls); });
    var raw = max / 4, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var tick = [1, 2, 5, 10].map(function (m) { return m * mag; }).filter(function (v) { return v >= raw; })[0];
    tick = Math.max(1, tick);
    var top = tick * 4;
    var grid = svg("g", { "class": "grid" }), axis = svg("g", { "class": "axis" });
    for (var i = 0; i <= 4; i++) {
      var y = T + (H - T - B) * (1 - i / 4);
      grid.appendChild(svg("line", { x1: L, x2: W - R, y1: y, y2: y }));
      var lab = svg("text", { x: L - 6, y: y + 4, "text-anchor": "end" });
      lab.textContent = num(Math.round(top * i / 4));
      axis.appendChild(lab);
    }
    s.appendChild(grid);
    var n = d.buckets.length || 1, slot = (W - L - R) / n, bw = Math.max(2, Math.min(38, slot * 0.68));
    var every = Math.ceil(n / 10);
    d.buckets.forEach(function (b, idx) {
      var x = L + idx * slot + (slot - bw) / 2, y0 = H - B;
      var tip = (d.bucket === "hour" ? dayFmt.format(new Date(b.start)) + " " + hourFmt.format(new Date(b.start)) : dayFmt.format(new Date(b.start))) + " — " + b.calls + " calls";
      groups(b).forEach(function (g) {
        if (!g.v) return;
        var h = (H - T - B) * g.v / top;
        var r = svg("rect", { "class": "bar", x: x, y: y0 - h, width: bw, height: h, rx: 2, fill: COLORS[g.key] });
        var title = svg("title"); title.textContent = tip + "\n" + g.label + ": " + g.v;
        r.appendChild(title); s.appendChild(r);
        y0 -= h;
      });
      if (idx % every === 0) {
        var tx = svg("text", { x: L + idx * slot + slot / 2, y: H - 8, "text-anchor": "middle" });
        tx.textContent = d.bucket === "hour" ? hourFmt.format(new Date(b.start)) : dayFmt.format(new Date(b.start));
        axis.appendChild(tx);
      }
    });
    s.appendChild(axis);
    host.appendChild(s);
    var legend = document.getElementById("chart-legend");
    legend.textContent = "";
    [["sent", "Texted"], ["queued", "Queued"], ["failed", "Failed"], ["skipped", "Skipped"], ["other", "Answered / other"]].forEach(function (p) {
      legend.appendChild(el("span", { "class": "sw-" + p[0], text: p[1] }));
    });
  }
  function drawFunnel(t) {
    var host = document.getElementById("funnel");
    host.textContent = "";
    var rows = [
      ["Missed calls", t.missed, ""], ["Texted", t.messages.sent, ""], ["Delivered", t.messages.delivered, ""],
      ["Read", t.messages.read, ""], ["Failed", t.messages.failed, "failed"]
    ];
    var base = Math.max(1, t.missed, t.messages.sent + t.messages.failed);
    rows.forEach(function (r) {
      var fill = el("div", { "class": "funnel-fill " + r[2] });
      fill.style.width = Math.max(r[1] ? 2 : 0, 100 * r[1] / base) + "%";
      var share = r[0] === "Missed calls" ? "" : (t.missed ? pct(r[1] / t.missed) + " of missed" : "");
      host.appendChild(el("div", { "class": "funnel-row" }, [
        el("span", { "class": "funnel-label", text: r[0] }),
        el("div", { "class": "funnel-track" }, [fill]),
        el("span", { "class": "funnel-value" }, [num(r[1]), el("small", { text: share })])
      ]));
    });
  }
  function drawRing(rate) {
    var host = document.getElementById("recovery-ring");
    host.textContent = "";
    var s = svg("svg", { viewBox: "0 0 100 100" }), r = 40, c = 2 * Math.PI * r;
    s.appendChild(svg("circle", { cx: 50, cy: 50, r: r, fill: "none", stroke: "#ede9fe", "stroke-width": 12 }));
    s.appendChild(svg("circle", { cx: 50, cy: 50, r: r, fill: "none", stroke: "#7c3aed", "stroke-width": 12, "stroke-linecap": "round",
      "stroke-dasharray": (c * (rate || 0)) + " " + c, transform: "rotate(-90 50 50)" }));
    var tx = svg("text", { x: 50, y: 56, "text-anchor": "middle", "font-size": 18, "font-weight": 700, fill: "#17212b" });
    tx.textContent = pct(rate);
    s.appendChild(tx);
    host.appendChild(s);
  }
  document.querySelectorAll("[data-range]").forEach(function (b) {
    b.addEventListener("click", function () {
      range = b.dataset.range;
      document.querySelectorAll("[data-range]").forEach(function (x) { x.classList.toggle("active", x === b); });
      loadStats();
    });
  });

  // ---- calls -----------------------------------------------------------------------------------
  var form = document.getElementById("filters");
  var tbody = document.querySelector("#calls tbody");
  var moreButton = document.getElementById("load-more");
  var cursor = null, generation = 0;
  function filterParams() {
    var p = {};
    new FormData(form).forEach(function (v, k) {
      v = String(v).trim();
      if (!v) return;
      if (k === "from_date") p.from = zonedMidnight(v);
      else if (k === "to_date") p.to = zonedMidnight(nextDay(v));
      else p[k] = v;
    });
    return p;
  }
  function loadCalls(reset) {
    var mine = reset ? ++generation : generation;
    var params = filterParams();
    params.limit = "50";
    if (!reset && cursor) params.cursor = cursor;
    document.getElementById("export-csv").href = api("/calls.csv", filterParams());
    var err = document.getElementById("calls-error");
    return getJSON(api("/calls", params)).then(function (j) {
      if (mine !== generation) return;
      if (reset) tbody.textContent = "";
      err.hidden = true;
      j.data.forEach(function (c) { tbody.appendChild(callRow(c)); });
      cursor = j.next_cursor;
      moreButton.hidden = !cursor;
      document.getElementById("calls-empty").hidden = tbody.children.length > 0;
      body.dataset.callsLoaded = String(tbody.children.length);
    }).catch(function (e) {
      if (mine !== generation) return;
      tbody.textContent = "";
      err.textContent = e.message; err.hidden = false;
      moreButton.hidden = true;
    });
  }
  function callRow(c) {
    var msg = c.message;
    var tr = el("tr", { "data-call-id": c.id }, [
      el("td", { "class": "when" }, [when(c.occurred_at), el("small", { text: ago(c.occurred_at) })]),
      el("td", { "class": "phone" }, [c.caller_phone_number || "—", c.customer && c.customer.name ? el("small", { text: c.customer.name }) : null]),
      el("td", {}, [cap(c.disposition), el("div", { "class": "dir", text: c.direction })]),
      el("td", { text: cap(c.source) }),
      el("td", {}, [el("span", { "class": "badge " + outcomeClass(c.outcome), text: outcomeLabel(c.outcome) })]),
      el("td", {}, [msg ? el("span", { "class": "pill s-" + msg.status, text: cap(msg.status) + (msg.attempts > 1 ? " · " + msg.attempts + " tries" : "") }) : el("span", { "class": "muted", text: "—" })]),
      el("td", {}, [c.recovered_at ? el("span", { "class": "tick", title: when(c.recovered_at), text: "✓ Recovered" }) : el("span", { "class": "muted", text: "—" })])
    ]);
    tr.addEventListener("click", function () { openCall(c.id); });
    return tr;
  }
  var debounce;
  form.addEventListener("input", function () { clearTimeout(debounce); debounce = setTimeout(function () { loadCalls(true); }, 250); });
  form.addEventListener("change", function () { clearTimeout(debounce); loadCalls(true); });
  form.addEventListener("submit", function (e) { e.preventDefault(); loadCalls(true); });
  form.addEventListener("reset", function () { setTimeout(function () { loadCalls(true); }, 0); });
  moreButton.addEventListener("click", function () { loadCalls(false); });

  // ---- one call: facts and timeline ---------------------------------------------------------------
  var drawer = document.getElementById("drawer");
  function closeDrawer() { drawer.classList.remove("open"); drawer.setAttribute("aria-hidden", "true"); }
  document.getElementById("drawer-close").addEventListener("click", closeDrawer);
  drawer.addEventListener("click", function (e) { if (e.target === drawer) closeDrawer(); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") closeDrawer(); });
  function fact(dl, k, v) { if (v == null || v === "") return; dl.appendChild(el("dt", { text: k })); dl.appendChild(el("dd", {}, [v])); }
  function openCall(id) {
    var host = document.getElementById("drawer-body");
    host.textContent = "Loading…";
    drawer.classList.add("open"); drawer.setAttribute("aria-hidden", "false");
    getJSON(api("/calls/" + encodeURIComponent(id))).then(function (j) { renderCall(j.data); })
      .catch(function (e) { host.textContent = e.message; });
  }
  var STATUS_COLORS = { queued: "#d97706", sending: "#f59e0b", sent: "#22c55e", delivered: "#16a34a", read: "#2563eb", failed: "#dc2626", cancelled: "#94a3b8" };
  function renderCall(c) {
    document.getElementById("drawer-title").textContent = "Call " + c.caller_phone_number;
    var host = document.getElementById("drawer-body");
    host.textContent = "";
    host.appendChild(el("p", {}, [el("span", { "class": "badge " + outcomeClass(c.outcome), text: outcomeLabel(c.outcome) })]));
    var dl = el("dl", { "class": "facts" });
    fact(dl, "When", when(c.occurred_at));
    fact(dl, "Call", cap(c.disposition) + ", " + c.direction + " via " + c.source);
    fact(dl, "External id", c.external_id);
    fact(dl, "Customer", c.customer ? (c.customer.name || "Unnamed") + (c.customer.opted_out ? " (opted out)" : "") : null);
    fact(dl, "Reservation", c.reservation ? when(c.reservation.start_at) + " · " + c.reservation.party_size + " guests · " + c.reservation.status : null);
    fact(dl, "Template", c.template_type);
    fact(dl, "Recovered", c.recovered_at ? when(c.recovered_at) : null);
    fact(dl, "Replied", c.replied_at ? when(c.replied_at) : null);
    fact(dl, "Recorded", when(c.created_at));
    host.appendChild(dl);
    var actions = el("div", { "class": "drawer-actions" });
    if (c.message && c.message.status === "failed") {
      var retry = el("button", { "class": "button", type: "button", text: "Retry message" });
      retry.addEventListener("click", function () {
        retry.disabled = true;
        getJSON(api("/messages/" + c.message.id + "/retry"), { method: "POST" })
          .then(function () { openCall(c.id); loadCalls(true); })
          .catch(function (e) { retry.textContent = e.message; });
      });
      actions.appendChild(retry);
    }
    if (c.customer) {
      var out = c.customer.opted_out;
      var toggle = el("button", { "class": "button ghost", type: "button", text: out ? "Allow messages again" : "Stop messaging this customer" });
      toggle.addEventListener("click", function () {
        toggle.disabled = true;
        getJSON(api("/customers/" + c.customer.id + "/opt-out"), { method: out ? "DELETE" : "PUT" })
          .then(function () { openCall(c.id); })
          .catch(function (e) { toggle.textContent = e.message; });
      });
      actions.appendChild(toggle);
    }
    if (actions.children.length) host.appendChild(actions);
    host.appendChild(el("h3", { "class": "section-title", text: "Message timeline" }));
    if (!c.message) {
      host.appendChild(el("p", { "class": "muted", text: "No message was queued for this call." }));
      return;
    }
    var m = c.message;
    var ul = el("ol", { "class": "timeline", id: "timeline" });
    m.timeline.forEach(function (e) {
      var li = el("li", {}, [
        el("div", { "class": "t-status", text: e.status + (e.attempt ? " · attempt " + e.attempt : "") }),
        el("div", { "class": "t-time", text: when(e.at) }),
        e.detail ? el("div", { "class": "t-detail", text: e.detail }) : null
      ]);
      li.style.setProperty("--c", STATUS_COLORS[e.status] || "#94a3b8");
      ul.appendChild(li);
    });
    host.appendChild(ul);
    var mdl = el("dl", { "class": "facts" });
    fact(mdl, "Status", cap(m.status));
    fact(mdl, "Attempts", String(m.attempts));
    fact(mdl, "Next attempt", m.next_attempt_at ? when(m.next_attempt_at) : null);
    fact(mdl, "Provider id", m.provider_message_id);
    fact(mdl, "Last error", m.last_error);
    host.appendChild(mdl);
  }

  // ---- the inbox's unread conversations, in the nav (SPEC §10) ----------------------------------
  var navBadge = document.getElementById("nav-unread");
  function loadUnread() {
    if (!navBadge || document.hidden) return;
    getJSON(api("/conversations", { unread: "true", limit: "100" })).then(function (j) {
      navBadge.hidden = j.data.length === 0;
      navBadge.textContent = j.data.length >= 100 ? "99+" : String(j.data.length);
    }).catch(function () { /* a hint only: the inbox page says what failed */ });
  }
  setInterval(loadUnread, 15000);

  loadStats();
  loadCalls(true);
  loadUnread();
})();
