/* specmarket dashboard: plain JavaScript over the /v1 API, no build step.
 *
 * The token lives in sessionStorage (this tab only) and is sent as a Bearer header; it never
 * goes into an address. Every value from the server is written with textContent (never as
 * HTML). Views: sign-in, the operator's market list and market detail, a participant's own
 * market. Polling: the list every 2 s, an open market every 1 s; countdowns tick every second.
 */
"use strict";

(function () {
  const KEY = "specmarket.token";
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem(KEY);
  let me = null;            // answer of GET /v1/me
  let selected = null;      // market id shown in detail
  let pollTimer = null;
  let lastMarket = null;
  let outcomeShown = null;  // market id whose outcome is drawn
  const charts = {};

  // ------------------------------------------------------------------ helpers

  async function api(path, options) {
    const opts = Object.assign({ headers: {} }, options || {});
    opts.headers = Object.assign({ Authorization: "Bearer " + token }, opts.headers);
    const res = await fetch(path, opts);
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (res.status === 401) { signOut("That token is not known to this service."); }
    if (!res.ok) {
      const err = new Error((body && body.detail) || res.statusText);
      err.status = res.status;
      throw err;
    }
    return body;
  }

  function show(id, on) { $(id).hidden = !on; }

  function fmtNumber(x) {
    if (typeof x !== "number") { return String(x); }
    if (Number.isInteger(x)) { return x.toLocaleString("en"); }
    return x.toLocaleString("en", { maximumFractionDigits: 4 });
  }

  function countdown(closesAt, status) {
    if (status !== "open") { return status === "cleared" ? "closed (cleared)" : "closed (" + status + ")"; }
    if (closesAt === null || closesAt === undefined) { return "when the operator closes it"; }
    let s = Math.round(closesAt - Date.now() / 1000);
    if (s <= 0) { return "now (closing)"; }
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    const parts = [];
    if (d) { parts.push(d + " d"); }
    if (d || h) { parts.push(h + " h"); }
    if (d || h || m) { parts.push(m + " min"); }
    parts.push(s + " s");
    return "in " + parts.join(" ");
  }

  function statusBadge(status) {
    const span = document.createElement("span");
    span.className = "status status-" + status;
    span.textContent = status;
    return span;
  }

  function factList(dl, entries) {
    dl.replaceChildren();
    for (const [k, v] of entries) {
      const div = document.createElement("div");
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = k.replace(/_/g, " ");
      dd.dataset.key = k;
      dd.textContent = (v !== null && typeof v === "object") ? JSON.stringify(v) : fmtNumber(v);
      div.append(dt, dd);
      dl.append(div);
    }
  }

  function niceBucket(age) {
    for (const b of [1, 2, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400]) {
      if (age / b <= 90) { return b; }
    }
    return 86400;
  }

  function drawChart(name, canvasId, config) {
    if (typeof Chart === "undefined") { return; }
    if (charts[name]) {
      charts[name].data = config.data;
      charts[name].options = config.options;
      charts[name].update("none");
      return;
    }
    charts[name] = new Chart($(canvasId), config);
  }

  function axis(title, extra) {
    return Object.assign({ title: { display: true, text: title }, beginAtZero: true,
      grid: { color: "#e6e9ed" } }, extra || {});
  }

  // ------------------------------------------------------------------ sign-in

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    token = null; me = null; selected = null; outcomeShown = null;
    clearInterval(pollTimer);
    for (const k of Object.keys(charts)) { charts[k].destroy(); delete charts[k]; }
    for (const id of ["markets", "detail", "mine"]) { show(id, false); }
    show("signout", false);
    $("whoami").textContent = "";
    show("login", true);
    $("login-error").textContent = message || "";
    $("token").value = "";
    $("token").focus();
  }

  async function signIn() {
    try {
      me = await api("/v1/me");
    } catch (err) {
      if (token) { signOut(err.message); }
      return;
    }
    show("login", false);
    show("signout", true);
    if (me.operator) {
      $("whoami").textContent = "Signed in as the operator";
      route();
    } else {
      $("whoami").textContent = "Signed in as participant " + me.participant;
      showMine();
    }
  }

  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = $("token").value.trim();
    if (!value) { $("login-error").textContent = "Enter a token."; return; }
    token = value;
    sessionStorage.setItem(KEY, token);
    $("token").value = "";
    signIn();
  });
  $("signout").addEventListener("click", () => signOut(""));

  // ------------------------------------------------------------------ operator: list

  function route() {
    if (!me || !me.operator) { return; }
    const m = /^#market=([0-9a-zA-Z]+)$/.exec(location.hash);
    clearInterval(pollTimer);
    if (m) { openDetail(m[1]); } else { showList(); }
  }
  window.addEventListener("hashchange", route);

  async function refreshList() {
    let markets;
    try { markets = await api("/v1/markets"); } catch (e) { return; }
    const tbody = $("markets-table").querySelector("tbody");
    const rows = markets.map((m) => {
      const tr = document.createElement("tr");
      tr.dataset.id = m.id;
      const open = document.createElement("button");
      open.type = "button";
      open.className = "open";
      open.textContent = m.id;
      open.setAttribute("aria-label", "Open market " + m.id);
      open.addEventListener("click", () => { location.hash = "market=" + m.id; });
      const cells = [open, m.mechanism, statusBadge(m.status), fmtNumber(m.participants),
        fmtNumber(m.reports), countdown(m.closes_at, m.status)];
      cells.forEach((c, i) => {
        const td = document.createElement("td");
        if (i === 3 || i === 4) { td.className = "num"; }
        if (i === 5) { td.className = "closes"; td.dataset.closesAt = m.closes_at ?? ""; td.dataset.status = m.status; }
        td.append(c);
        tr.append(td);
      });
      return tr;
    });
    // keep keyboard focus on the same market's button across refreshes
    const focused = document.activeElement && document.activeElement.closest("tr");
    const focusedId = focused && focused.dataset.id;
    tbody.replaceChildren(...rows);
    if (focusedId) {
      const again = tbody.querySelector('tr[data-id="' + focusedId + '"] button');
      if (again) { again.focus(); }
    }
    show("markets-empty", markets.length === 0);
  }

  function showList() {
    selected = null;
    show("detail", false);
    show("markets", true);
    refreshList();
    pollTimer = setInterval(refreshList, 2000);
  }

  // ------------------------------------------------------------------ operator: one market

  function openDetail(id) {
    if (selected !== id) {
      outcomeShown = null;
      lastMarket = null;
      for (const k of Object.keys(charts)) { charts[k].destroy(); delete charts[k]; }
    }
    selected = id;
    show("markets", false);
    show("detail", true);
    show("outcome", false);
    show("void-msg", false);
    $("close-msg").textContent = "";
    $("detail-id").textContent = id;
    refreshDetail();
    pollTimer = setInterval(refreshDetail, 1000);
    $("detail-h").setAttribute("tabindex", "-1");
    $("detail-h").focus();
  }

  async function refreshDetail() {
    const id = selected;
    if (!id) { return; }
    let m;
    try { m = await api("/v1/markets/" + id); } catch (e) {
      $("close-msg").textContent = e.message;
      return;
    }
    if (id !== selected) { return; }
    lastMarket = m;
    $("detail-mechanism").textContent = m.mechanism;
    $("detail-status").replaceChildren(statusBadge(m.status));
    $("detail-participants").textContent = fmtNumber(m.participants);
    $("detail-reports").textContent = fmtNumber(m.reports);
    $("detail-closes").textContent = countdown(m.closes_at, m.status);
    show("close-btn", m.status === "open");
    const isLive = m.mechanism === "data-market";
    show("live", isLive);
    show("timeline-figure", !isLive);
    if (isLive) { await refreshLive(m); } else { await refreshTimeline(m); }
    if (m.status === "cleared" && outcomeShown !== id) {
      await showOutcome(id);
    }
    if (m.status === "void") {
      show("void-msg", true);
      $("void-msg").textContent = "This market is void: its instance could not be cleared.";
    }
    if (m.status !== "open") { clearInterval(pollTimer); }
  }

  async function refreshTimeline(m) {
    const end = m.closed_at || Date.now() / 1000;
    const bucket = niceBucket(Math.max(1, end - m.opened_at));
    let t;
    try { t = await api("/v1/markets/" + m.id + "/timeline?bucket=" + bucket); } catch (e) { return; }
    let total = 0;
    const cumulative = t.counts.map((c) => (total += c));
    const unit = t.bucket === 1 ? "s" : t.bucket + " s";
    $("timeline-caption").textContent = "Reports accepted per " + unit + " (bars, left axis) and in total " +
      "(line, right axis), by seconds since the market opened; " + total + " accepted so far " +
      "(a replaced report counts again).";
    drawChart("timeline", "timeline-chart", {
      data: {
        labels: t.starts.map((s) => String(s)),
        datasets: [
          { type: "bar", label: "reports per " + unit, data: t.counts, backgroundColor: "#0969da",
            yAxisID: "y" },
          { type: "line", label: "reports in total", data: cumulative, borderColor: "#bf3989",
            backgroundColor: "#bf3989", pointRadius: 0, stepped: true, yAxisID: "y2" },
        ],
      },
      options: {
        animation: false, maintainAspectRatio: false, responsive: true,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: axis("seconds since the market opened", { ticks: { maxTicksLimit: 10 } }),
          y: axis("reports per " + unit, { ticks: { precision: 0 } }),
          y2: axis("reports in total", { position: "right", ticks: { precision: 0 },
            grid: { drawOnChartArea: false } }),
        },
      },
    });
  }

  const palette = ["#0969da", "#bf3989", "#1a7f37", "#8250df", "#bc4c00", "#116329", "#cf222e",
    "#0550ae", "#953800", "#6639ba"];
  let liveHistory = { id: null, t0: 0, samples: [] };

  async function refreshLive(m) {
    let v;
    try { v = await api("/v1/markets/" + m.id + "/quotes"); } catch (e) { return; }
    if (liveHistory.id !== m.id) { liveHistory = { id: m.id, t0: Date.now() / 1000, samples: [] }; }
    const t = Date.now() / 1000 - liveHistory.t0;
    const samples = liveHistory.samples;
    samples.push({ t: t, bids: v.bids_accepted, sellers: v.sellers });
    if (samples.length > 600) { samples.shift(); }
    const back = samples.filter((s) => s.t >= t - 5);
    const first = back[0];
    const rate = first && t > first.t ? (v.bids_accepted - first.bids) / (t - first.t) : 0;
    $("live-bids").textContent = fmtNumber(v.bids_accepted);
    $("live-rate").textContent = fmtNumber(Math.round(rate * 10) / 10);
    $("live-sellers").textContent = fmtNumber(v.sellers.length);
    const ids = v.sellers.map((s) => s.seller).slice(0, 10);
    const series = (key) => ids.map((id, k) => ({
      label: id, borderColor: palette[k % palette.length], backgroundColor: palette[k % palette.length],
      pointRadius: 0, stepped: true,
      data: samples.map((s) => {
        const x = s.sellers.find((q) => q.seller === id);
        return { x: s.t, y: x ? x[key] : null };
      }),
    }));
    const rates = samples.map((s, k) => {
      const prev = samples[Math.max(0, k - 1)];
      return { x: s.t, y: k && s.t > prev.t ? (s.bids - prev.bids) / (s.t - prev.t) : 0 };
    });
    const opts = (ytitle) => ({
      animation: false, maintainAspectRatio: false, responsive: true, parsing: false,
      scales: { x: axis("seconds since watching", { type: "linear" }), y: axis(ytitle) },
    });
    drawChart("livePrice", "live-price-chart",
      { type: "line", data: { datasets: series("reserve") }, options: opts("reserve (currency units / unit)") });
    drawChart("liveAlloc", "live-alloc-chart",
      { type: "line", data: { datasets: series("allocated") }, options: opts("allocated (units)") });
    drawChart("liveRate", "live-rate-chart", {
      type: "line",
      data: { datasets: [{ label: "messages per second", data: rates, borderColor: "#bc4c00",
        backgroundColor: "#bc4c00", pointRadius: 0 }] },
      options: opts("messages per second"),
    });
  }

  function allocationNumber(a) {
    if (typeof a === "number") { return a; }
    if (typeof a === "boolean") { return a ? 1 : 0; }
    if (Array.isArray(a)) { return a.length; }
    if (a === null || a === undefined) { return 0; }
    if (typeof a === "object") { return Object.keys(a).length; }
    return 1;
  }

  async function showOutcome(id) {
    let o;
    try { o = await api("/v1/markets/" + id + "/outcome"); } catch (e) { return; }
    if (id !== selected) { return; }
    outcomeShown = id;
    const scalars = Object.entries(o).filter(([k, v]) =>
      k !== "mechanism" && (typeof v === "number" || typeof v === "boolean" || typeof v === "string"));
    const winners = Array.isArray(o.winners) ? [["winners", o.winners.join(", ") || "none"]] : [];
    factList($("outcome-facts"), scalars.concat(winners));
    const ids = Object.keys(o.payments || {});
    const alloc = ids.map((p) => allocationNumber((o.allocation || {})[p]));
    const pay = ids.map((p) => o.payments[p]);
    const tbody = $("outcome-table").querySelector("tbody");
    tbody.replaceChildren(...ids.map((p, i) => {
      const tr = document.createElement("tr");
      tr.dataset.participant = p;
      const raw = (o.allocation || {})[p];
      for (const [text, cls] of [[p, ""], [typeof raw === "object" ? JSON.stringify(raw) : fmtNumber(raw ?? 0), "num"],
        [fmtNumber(pay[i]), "num"]]) {
        const td = document.createElement("td");
        td.className = cls;
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }));
    show("outcome", true);
    drawChart("outcome", "outcome-chart", {
      type: "bar",
      data: {
        labels: ids,
        datasets: [
          { label: "allocation (units)", data: alloc, backgroundColor: "#1a7f37", yAxisID: "y" },
          { label: "payment (currency units)", data: pay, backgroundColor: "#8250df", yAxisID: "y2" },
        ],
      },
      options: {
        animation: false, maintainAspectRatio: false, responsive: true,
        scales: {
          x: axis("participant"),
          y: axis("allocation (units)", { ticks: { precision: 0 } }),
          y2: axis("payment (currency units)", { position: "right", beginAtZero: true,
            grid: { drawOnChartArea: false } }),
        },
      },
    });
  }

  $("back").addEventListener("click", () => { location.hash = ""; });

  $("close-btn").addEventListener("click", async () => {
    const id = selected;
    $("close-btn").disabled = true;
    $("close-msg").textContent = "Closing…";
    try {
      await api("/v1/markets/" + id + "/close", { method: "POST" });
      $("close-msg").textContent = "Cleared.";
    } catch (e) {
      $("close-msg").textContent = "Not cleared: " + e.message;
    }
    $("close-btn").disabled = false;
    clearInterval(pollTimer);
    await refreshDetail();
  });

  // ------------------------------------------------------------------ participant

  async function refreshMine() {
    try { me = await api("/v1/me"); } catch (e) { return; }
    $("mine-market").textContent = me.market;
    $("mine-participant").textContent = me.participant;
    $("mine-role").textContent = me.role;
    $("mine-mechanism").textContent = me.mechanism;
    $("mine-status").replaceChildren(statusBadge(me.status));
    $("mine-closes").textContent = countdown(me.closes_at, me.status);
    $("mine-version").textContent = me.version ? "version " + me.version : "not sent yet";
    if (me.version) {
      try {
        const r = await api("/v1/markets/" + me.market + "/report");
        $("mine-report").textContent = JSON.stringify(r.report, null, 2);
      } catch (e) { /* shown on the next tick */ }
    }
    if (me.status === "cleared") {
      try {
        const o = await api("/v1/markets/" + me.market + "/outcome");
        factList($("mine-outcome-facts"), [["reported", o.reported], ["allocation", o.allocation ?? 0],
          ["payment", o.payment]].concat(Object.entries(o.own)));
        factList($("mine-public"), Object.entries(o.public));
        show("mine-outcome", true);
      } catch (e) { /* shown on the next tick */ }
    }
    if (me.status !== "open") { clearInterval(pollTimer); }
  }

  function showMine() {
    show("mine", true);
    refreshMine();
    pollTimer = setInterval(refreshMine, 2000);
  }

  // ------------------------------------------------------------------ countdowns

  setInterval(() => {
    for (const td of document.querySelectorAll("td.closes")) {
      const at = td.dataset.closesAt === "" ? null : Number(td.dataset.closesAt);
      td.textContent = countdown(at, td.dataset.status);
    }
    if (lastMarket && selected === lastMarket.id) {
      $("detail-closes").textContent = countdown(lastMarket.closes_at, lastMarket.status);
    }
  }, 1000);

  if (typeof Chart !== "undefined") {
    Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
    Chart.defaults.color = "#1b1f24";
  }
  if (token) { signIn(); } else { $("token").focus(); }
})();
