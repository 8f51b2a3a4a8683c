// The apollo-fake inspector: reads and changes the fake only through its control API.
//
// Every value shown comes from a request a client made, so it is hostile input: it is
// only ever set as textContent (never innerHTML), and the page's CSP runs no inline script.
"use strict";

const TOKEN_KEY = "apollo-fake-control-token";
const HEADER = "X-Fake-Control-Token";
const POLL_MS = 300; // new requests show within a second
const RETRY_MS = 3000; // while the fake does not answer
const ERROR_HOLD_MS = 8000; // a refusal stays in the status line this long, polls or not
const KEEP_ROWS = 500; // rows the page keeps; the journal keeps more
const FIRST_LOAD = 200; // the newest records shown when the page opens or a filter changes
const COVERAGE_MS = 1500; // the report is redrawn at most this often while requests arrive

const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  cursor: 0, // the number of the last record read: only newer ones are asked for
  rows: [], // shown records, newest first
  selected: null, // seq of the record shown in detail
  polling: false,
  errorUntil: 0, // the live count does not replace a refusal before this time
  generation: 0, // bumped when filters change: an older poll's answer is dropped
  view: "requests",
  seen: 0, // requests noticed since the coverage and the data were last drawn
  coverageDrawn: -1,
  coverageAt: 0,
  dataDrawn: -1,
  dataAt: 0,
  parents: { collection: "projects", page: 1, total: 0 },
  entries: { collection: null, id: null, name: "", page: 1, total: 0 },
};

// --- the control API ------------------------------------------------------

class Refused extends Error {
  constructor(status, body) {
    const error = body && body.error ? body.error : null;
    super(error ? error.message : `HTTP ${status}`);
    this.status = status;
    this.details = error && Array.isArray(error.details) ? error.details : [];
  }
}

function headers(body) {
  const out = {};
  if (state.token !== null) out[HEADER] = state.token;
  if (body !== undefined) out["Content-Type"] = "application/json";
  return out;
}

async function call(method, path, body, { quiet = false } = {}) {
  if (!quiet) showCall(method, path, body);
  const response = await fetch(path, {
    method,
    headers: headers(body),
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
  });
  const type = response.headers.get("Content-Type") || "";
  const parsed = type.startsWith("application/json") ? await response.json() : await response.text();
  if (response.status === 401) needToken(new Refused(401, parsed).message);
  if (!response.ok) throw new Refused(response.status, parsed);
  if (!quiet) setText($("last-answer"), `${response.status}: ${summary(parsed)}`);
  return parsed;
}

function summary(parsed) {
  const text = typeof parsed === "string" ? parsed : JSON.stringify(parsed);
  return text.length > 200 ? text.slice(0, 200) + "…" : text;
}

function shellQuote(text) {
  return "'" + String(text).replace(/'/g, "'\\''") + "'";
}

function showCall(method, path, body) {
  const parts = ["curl", "-X", method];
  if (state.token !== null) parts.push("-H", shellQuote(`${HEADER}: $APOLLO_FAKE_CONTROL_TOKEN`));
  if (body !== undefined) {
    parts.push("-H", shellQuote("Content-Type: application/json"), "-d", shellQuote(JSON.stringify(body)));
  }
  parts.push(shellQuote(location.origin + path));
  setText($("last-call"), parts.join(" "));
  setText($("last-answer"), "");
}

function say(text, isError = false, hold = isError) {
  const status = $("status");
  setText(status, text);
  status.classList.toggle("bad", isError);
  state.errorUntil = hold ? Date.now() + ERROR_HOLD_MS : 0;
}

function fields(error) {
  return error.details && error.details.length
    ? " (" + error.details.map((d) => `${d.field || "body"}: ${d.message}`).join("; ") + ")"
    : "";
}

function refusal(error) {
  return `${error.message}${fields(error)}`;
}

function fail(where) {
  return (error) => {
    if (error instanceof Refused && error.status === 401) return;
    say(`${where}: ${refusal(error)}`, true);
    if ($("last-answer")) setText($("last-answer"), `${error.status || ""} ${refusal(error)}`);
  };
}

// --- small DOM helpers: text only, never markup ----------------------------

function setText(node, text) {
  node.textContent = text === null || text === undefined ? "" : String(text);
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function pretty(value) {
  if (value === null || value === undefined) return "(none)";
  return JSON.stringify(value, null, 2);
}

// A list of rows (the requests, the data): one Tab stop for the whole list, as the
// ARIA grid and listbox patterns have it. Arrows, Home and End move between rows;
// Enter, Space or a click opens one. The row that keeps the Tab stop is the one last
// focused, so Tab leaves the list and Shift+Tab comes back to where it was.
const actions = new WeakMap();

function rowList(body) {
  body.addEventListener("keydown", (event) => {
    const row = event.target.closest("tr");
    if (!row || row.parentNode !== body) return;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      openRow(row);
      return;
    }
    const rows = Array.from(body.rows);
    const at = rows.indexOf(row);
    const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: rows.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    const next = rows[Math.max(0, Math.min(rows.length - 1, to))];
    tabStop(body, next);
    next.focus();
  });
  body.addEventListener("focusin", (event) => {
    const row = event.target.closest("tr");
    if (row && row.parentNode === body) {
      tabStop(body, row);
      body.dataset.chosen = row.dataset.key; // the person's place in the list
    }
  });
  body.addEventListener("click", (event) => {
    const row = event.target.closest("tr");
    if (row && row.parentNode === body) openRow(row);
  });
}

function openRow(row) {
  tabStop(row.parentNode, row);
  const action = actions.get(row);
  if (action) action();
}

function tabStop(body, row) {
  for (const other of body.rows) other.tabIndex = other === row ? 0 : -1;
}

// Draw a list's rows (each with data-key and its action), keeping the focus and the
// Tab stop on the row the person was last on while it is there; else the Tab stop is
// on the preferred row (the one shown), else on the first.
function setRows(body, rows, prefer) {
  const focused = body.contains(document.activeElement) ? document.activeElement.dataset.key : undefined;
  const keep = focused !== undefined ? focused : body.dataset.chosen;
  body.replaceChildren(...rows);
  const again = rows.find((row) => row.dataset.key === keep) || rows.find((row) => row.dataset.key === prefer) || rows[0];
  if (again) tabStop(body, again);
  if (again && focused !== undefined) again.focus({ preventScroll: true });
}

function newRow(key, action) {
  const tr = document.createElement("tr");
  tr.dataset.key = String(key);
  tr.tabIndex = -1;
  actions.set(tr, action);
  return tr;
}

for (const id of ["requests", "parents", "entries"]) rowList($(id).tBodies[0]);

// --- the token --------------------------------------------------------------

function needToken(message) {
  $("app").hidden = true;
  $("token-form").hidden = false;
  const error = $("token-error");
  const refused = state.token !== null;
  if (refused) {
    // The API's own words (a missing token or a wrong one); the refused token is
    // forgotten, so that no later call, nor a reload, sends it again.
    setText(error, message || "The token was refused.");
    error.hidden = false;
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
  } else {
    error.hidden = true;
  }
  say(refused ? "The token was refused." : "The control API needs its token.", refused);
  $("token").select();
  $("token").focus();
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("token").value;
  start(); // kept for the tab once the API accepts it
});

// --- requests, live ----------------------------------------------------------

function filterQuery() {
  const query = new URLSearchParams();
  const method = $("f-method").value;
  const path = $("f-path").value.trim();
  const status = $("f-status").value;
  if (method) query.set("method", method);
  if (path) query.set("path", path);
  if (status) query.set("status", status);
  // On the server, before its limit: a violation older than the newest rows still shows.
  if ($("f-violations").checked) query.set("violations", "true");
  return query;
}

async function poll() {
  const generation = state.generation;
  const query = filterQuery();
  query.set("after", String(state.cursor));
  // Never more than the page keeps, however many came since the last look.
  query.set("limit", String(state.cursor === 0 ? FIRST_LOAD : KEEP_ROWS));
  const answer = await call("GET", "/_fake/requests?" + query, undefined, { quiet: true });
  if (generation !== state.generation) return;
  if (answer.last < state.cursor) {
    // A fake started afresh numbers from 1 again: read it from its start.
    restartRequests();
    return;
  }
  const fresh = answer.requests.slice().reverse();
  const grew = answer.last !== state.cursor;
  state.cursor = answer.last;
  if (fresh.length) {
    state.rows = fresh.concat(state.rows).slice(0, KEEP_ROWS);
    drawRows(fresh.length);
  }
  if (grew) {
    state.seen += 1;
    refreshViews();
  }
  sayLive(answer.dropped);
}

function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many}`;
}

function sayLive(dropped) {
  // A refusal just said stays to be read: the next polls do not wipe it.
  if (Date.now() < state.errorUntil) return;
  // What the list holds: the journal since the last reset or clear, as filtered.
  const count = state.rows.length;
  const filtered = filterQuery().toString() !== "";
  let text = count >= KEEP_ROWS ? `the newest ${count} requests` : plural(count, "request", "requests");
  text += filtered ? (count === 1 ? " matches the filter" : " match the filter") : " in the journal";
  if (dropped) text += ` (${dropped} older ones dropped from it)`;
  say(`Live · ${text}`);
}

function statusClass(status) {
  if (status === 0) return "s0";
  return "s" + String(status)[0];
}

function drawRows(added) {
  const body = $("requests").tBodies[0];
  const rows = state.rows.map((record) => {
    const tr = newRow(record.seq, () => select(record));
    if (record.violations.length) tr.classList.add("violating");
    if (record.seq === state.selected) tr.setAttribute("aria-current", "true");
    tr.append(
      el("td", record.method, "method"),
      el("td", record.path + (record.query ? "?" + record.query : ""), "path"),
      el("td", record.status === 0 ? "dropped" : record.status, "status " + statusClass(record.status)),
      el("td", record.time, "time"),
      el("td", record.user === null ? "–" : record.user, "user"),
    );
    tr.setAttribute("aria-label", `${record.method} ${record.path}, ${record.status}`);
    return tr;
  });
  setRows(body, rows, state.selected === null ? undefined : String(state.selected));
  $("requests-empty").hidden = state.rows.length > 0;
  if (added) {
    for (const tr of Array.from(body.rows).slice(0, added)) {
      tr.classList.add("new"); // once: a view shown again does not replay it
      tr.addEventListener("animationend", () => tr.classList.remove("new"), { once: true });
    }
  }
}

function answerOf(record) {
  const by = record.fault !== undefined ? `Answered by fault rule ${record.fault}` : "";
  if (record.status === 0) return `The connection was dropped (fault rule ${record.fault}).`;
  if (!record.answer_size) return `${by || record.status}: no body.`;
  const head = by ? by + "\n" : "";
  const kept = new TextEncoder().encode(record.answer).length;
  if (kept < record.answer_size) {
    return `${head}The first ${kept} of ${record.answer_size} bytes:\n${record.answer}…`;
  }
  try {
    return head + pretty(JSON.parse(record.answer));
  } catch {
    return head + record.answer;
  }
}

function select(record) {
  state.selected = record.seq;
  for (const tr of $("requests").tBodies[0].rows) {
    if (tr.dataset.seq === String(record.seq)) tr.setAttribute("aria-current", "true");
    else tr.removeAttribute("aria-current");
  }
  const detail = $("detail");
  detail.hidden = false;
  setText($("detail-title"), `${record.method} ${record.path}${record.query ? "?" + record.query : ""} → ${record.status === 0 ? "dropped" : record.status}`);
  setText($("detail-body"), pretty(record.body));
  setText($("detail-answer"), answerOf(record));
  const list = $("violations");
  list.replaceChildren(...record.violations.map((v) => {
    const li = el("li");
    li.append(el("strong", v.field || "(the request)", "field"), el("span", v.rule, "rule"));
    if (v.message !== v.rule) li.append(el("span", v.message, "message"));
    return li;
  }));
  $("detail-violations").hidden = record.violations.length === 0;
  // Side by side, the detail is in view beside the list and the focus stays in the
  // list; stacked (a phone), it is below the list, so it is brought into view and
  // focused (Escape goes back to the row).
  if (STACKED.matches) {
    detail.scrollIntoView({ block: "start" });
    detail.focus({ preventScroll: true });
  }
}

const STACKED = matchMedia("(max-width: 760px)"); // the width at which ui.css stacks them

$("detail").addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const body = $("requests").tBodies[0];
  const back = body.querySelector('tr[aria-current="true"]') || body.querySelector('tr[tabindex="0"]');
  if (back) {
    back.focus({ preventScroll: true });
    back.scrollIntoView({ block: "nearest" });
  }
});

function restartRequests() {
  state.generation += 1;
  state.cursor = 0;
  state.rows = [];
  state.selected = null;
  $("detail").hidden = true;
  drawRows(0);
  if (!$("app").hidden) sayLive(0);
}

for (const id of ["f-method", "f-status", "f-violations"]) {
  $(id).addEventListener("change", restartRequests);
}
let typing = null;
$("f-path").addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(restartRequests, 250);
});
$("filters").addEventListener("submit", (event) => event.preventDefault());
$("clear-journal").addEventListener("click", () => {
  call("DELETE", "/_fake/requests").then(restartRequests, fail("Clear journal"));
});

async function loop() {
  if (state.polling) return;
  state.polling = true;
  try {
    for (;;) {
      let wait = POLL_MS;
      if (!document.hidden) {
        try {
          await poll();
        } catch (error) {
          if (error instanceof Refused && error.status === 401) break;
          // Not held: the live count replaces it as soon as the fake answers again.
          say(`The fake does not answer (${error.message}); retrying.`, true, false);
          wait = RETRY_MS;
        }
      }
      await new Promise((done) => setTimeout(done, wait));
    }
  } finally {
    state.polling = false;
  }
}

// --- views ------------------------------------------------------------------

const VIEWS = ["requests", "coverage", "data", "controls"];

function show(view) {
  state.view = view;
  for (const name of VIEWS) {
    const tab = $("tab-" + name);
    const on = name === view;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $("view-" + name).hidden = !on;
  }
  refreshViews(true);
}

for (const name of VIEWS) {
  const tab = $("tab-" + name);
  tab.addEventListener("click", () => show(name));
  tab.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const next = VIEWS[(VIEWS.indexOf(name) + step + VIEWS.length) % VIEWS.length];
    show(next);
    $("tab-" + next).focus();
  });
}

function refreshViews(now = false) {
  if (state.view === "coverage") drawCoverage(now);
  if (state.view === "data") drawData(now);
  if (state.view === "controls" && now) loadControls();
  if (state.view === "controls" && !now) loadFaults().catch(fail("Faults")); // what remains of each
}

// --- coverage: the HTML report, drawn in a frame that runs no script ------------

let coverageTimer = null;

function drawCoverage(now) {
  if (!now && state.coverageDrawn === state.seen) return;
  const wait = now ? 0 : Math.max(0, state.coverageAt + COVERAGE_MS - Date.now());
  clearTimeout(coverageTimer);
  coverageTimer = setTimeout(async () => {
    state.coverageAt = Date.now();
    const seen = state.seen;
    try {
      const html = await call("GET", "/_fake/report.html", undefined, { quiet: true });
      const frame = $("coverage");
      const top = frame.contentWindow ? frame.contentWindow.scrollY : 0;
      frame.addEventListener("load", () => fitFrame(frame, top), { once: true });
      frame.srcdoc = html; // sandboxed without allow-scripts: the report runs nothing
      state.coverageDrawn = seen;
      $("coverage-error").hidden = true;
    } catch (error) {
      const box = $("coverage-error");
      setText(box, `The report could not be read: ${error.message}`);
      box.hidden = false;
    }
  }, wait);
}

function fitFrame(frame, top) {
  const doc = frame.contentDocument;
  if (!doc) return;
  frame.style.height = doc.documentElement.scrollHeight + 24 + "px";
  if (top) frame.contentWindow.scrollTo(0, top);
}

// --- data: read through the control API, never the Apollo calls (which count) ---

function loadData() {
  loadParents();
  if (state.entries.id !== null) loadEntries();
  loadChanges();
}

// Redrawn as requests arrive, as the coverage is, and as seldom.
let dataTimer = null;

function drawData(now) {
  if (!now && state.dataDrawn === state.seen) return;
  const wait = now ? 0 : Math.max(0, state.dataAt + COVERAGE_MS - Date.now());
  clearTimeout(dataTimer);
  dataTimer = setTimeout(() => {
    state.dataAt = Date.now();
    state.dataDrawn = state.seen;
    loadData();
  }, wait);
}

const NOUNS = { projects: ["project", "projects"], tasks: ["task", "tasks"], contacts: ["contact", "contacts"] };

function pager(id, page, total, [one, many]) {
  const box = $(id);
  const pages = Math.max(1, Math.ceil(total / 50));
  setText(box.querySelector("span"), `page ${page} of ${pages} · ${plural(total, one, many)}`);
  box.querySelector('[data-step="-1"]').disabled = page <= 1;
  box.querySelector('[data-step="1"]').disabled = page >= pages;
}

async function loadParents() {
  const p = state.parents;
  const asked = p.page;
  try {
    const answer = await call("GET", `/_fake/data/${p.collection}?page=${p.page}`, undefined, { quiet: true });
    if (p !== state.parents || p.page !== asked) return; // another was asked for since
    p.total = answer.total;
    const rows = answer.records.map((record) => {
      // A task has a subject; a contact is a contact, a case or a deal.
      const title = record.name || record.subject || "";
      const name = record.kind && record.kind !== "contact" ? `${title} (${record.kind})` : title;
      const tr = newRow(record.id, () => {
        state.entries = { collection: p.collection, id: record.id, name, page: 1, total: 0 };
        for (const other of tr.parentNode.rows) other.removeAttribute("aria-current");
        tr.setAttribute("aria-current", "true");
        $("entry-fields").hidden = true;
        $("entry-title").hidden = true;
        loadEntries();
      });
      tr.append(el("td", record.id, "num"), el("td", name), el("td", record.entries, "num"));
      if (state.entries.collection === p.collection && state.entries.id === record.id) {
        tr.setAttribute("aria-current", "true");
      }
      return tr;
    });
    const current = state.entries.collection === p.collection ? state.entries.id : undefined;
    setRows($("parents").tBodies[0], rows, current === undefined || current === null ? undefined : String(current));
    pager("parents-pager", p.page, p.total, NOUNS[p.collection]);
  } catch (error) {
    fail("Data")(error);
  }
}

async function loadEntries() {
  const e = state.entries;
  const noun = e.collection.slice(0, -1);
  setText($("entries-title"), `Entries of ${noun} ${e.id}${e.name ? " · " + e.name : ""}`);
  $("entries-hint").hidden = true;
  const asked = e.page;
  try {
    const answer = await call("GET", `/_fake/data/${e.collection}/${encodeURIComponent(e.id)}/entries?page=${e.page}`, undefined, { quiet: true });
    if (e !== state.entries || e.page !== asked) return; // another was asked for since
    e.total = answer.total;
    const count = plural(e.total, "entry", "entries");
    setText($("entries-title"), `${noun[0].toUpperCase()}${noun.slice(1)} ${e.id}${e.name ? " · " + e.name : ""} · ${count}`);
    const rows = answer["time-entries"].map((entry) => {
      const tr = newRow(entry.id, () => showEntry(entry));
      tr.append(
        el("td", entry.date, "time"),
        el("td", hours(entry.seconds), "num"),
        el("td", entry.notes || ""),
        el("td", entry.id, "num"),
      );
      return tr;
    });
    setRows($("entries").tBodies[0], rows);
    $("entries-box").hidden = rows.length === 0;
    $("entries-pager").hidden = e.total <= 50;
    $("entries-hint").hidden = rows.length > 0;
    if (!rows.length) setText($("entries-hint"), "No entries.");
    pager("entries-pager", e.page, e.total, ["entry", "entries"]);
  } catch (error) {
    fail("Entries")(error);
  }
}

function hours(seconds) {
  const total = Number(seconds);
  if (!Number.isFinite(total)) return String(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  return `${h}:${String(m).padStart(2, "0")}`;
}

function showEntry(entry) {
  const list = $("entry-fields");
  const items = [];
  for (const [name, value] of Object.entries(entry)) {
    items.push(el("dt", name), el("dd", value === null ? "null" : typeof value === "object" ? JSON.stringify(value) : value));
  }
  list.replaceChildren(...items);
  list.hidden = false;
  setText($("entry-title"), `Entry ${entry.id}`);
  $("entry-title").hidden = false;
}

$("d-collection").addEventListener("change", (event) => {
  state.parents = { collection: event.target.value, page: 1, total: 0 };
  loadParents();
});
for (const [id, target, load] of [
  ["parents-pager", () => state.parents, loadParents],
  ["entries-pager", () => state.entries, loadEntries],
]) {
  $(id).addEventListener("click", (event) => {
    const step = Number(event.target.dataset && event.target.dataset.step);
    if (!step) return;
    target().page += step;
    load();
  });
}

async function loadChanges() {
  try {
    const answer = await call("GET", "/_fake/changes", undefined, { quiet: true });
    drawChanges(answer.changes);
  } catch (error) {
    fail("Changes")(error);
  }
}

function describe(record) {
  const name = record.notes !== undefined ? record.notes : record.name || record.subject;
  return `${record.id}${name ? " · " + name : ""}`;
}

function difference(before, after) {
  const out = [];
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = JSON.stringify(before[key]);
    const b = JSON.stringify(after[key]);
    if (a !== b) out.push([key, before[key], after[key]]);
  }
  return out;
}

// A created or deleted record: its name, then every field it has (or had).
function whole(kind, record) {
  const box = el("div", undefined, kind);
  box.append(el("p", `${kind} ${describe(record)}`));
  const list = el("dl", undefined, "fields");
  for (const [key, value] of Object.entries(record)) {
    const pair = el("div"); // one field: its name and value, for the list to be read by pairs
    pair.append(el("dt", key), el("dd", value === null ? "null" : typeof value === "object" ? JSON.stringify(value) : value));
    list.append(pair);
  }
  box.append(list);
  return box;
}

function drawChanges(changes) {
  const box = $("changes");
  const parts = [];
  for (const [collection, kinds] of Object.entries(changes)) {
    const section = el("section", undefined, "change");
    const label = collection.replace("-", " ");
    section.append(el("h3", label[0].toUpperCase() + label.slice(1)));
    for (const record of kinds.created) section.append(whole("created", record));
    for (const { before, after } of kinds.updated) {
      const p = el("div", undefined, "updated");
      p.append(el("p", `updated ${describe(after)}`));
      const table = el("table", undefined, "grid diff");
      const head = el("tr");
      head.append(el("th", "field"), el("th", "before"), el("th", "after"));
      table.append(head);
      for (const [key, a, b] of difference(before, after)) {
        const tr = el("tr");
        tr.append(el("td", key), el("td", a === undefined ? "–" : JSON.stringify(a)), el("td", b === undefined ? "–" : JSON.stringify(b)));
        table.append(tr);
      }
      p.append(table);
      section.append(p);
    }
    for (const record of kinds.deleted) section.append(whole("deleted", record));
    parts.push(section);
  }
  if (!parts.length) parts.push(el("p", "No change since the data was loaded.", "empty"));
  box.replaceChildren(...parts);
}

$("changes-refresh").addEventListener("click", loadChanges);

// --- controls: each one call of the documented control API -------------------------

async function loadControls() {
  await Promise.all([loadSnapshots(), loadFaults(), loadClock()]).catch(fail("Controls"));
}

async function loadSnapshots() {
  const answer = await call("GET", "/_fake/snapshots", undefined, { quiet: true });
  $("snapshots").replaceChildren(...answer.snapshots.map((name) => {
    const li = el("li");
    const restore = el("button", "Restore");
    restore.type = "button";
    restore.setAttribute("aria-label", `Restore ${name}`);
    restore.addEventListener("click", () => act("POST", `/_fake/snapshots/${encodeURIComponent(name)}/restore`));
    const remove = el("button", "Delete", "quiet");
    remove.type = "button";
    remove.setAttribute("aria-label", `Delete ${name}`);
    remove.addEventListener("click", () => act("DELETE", `/_fake/snapshots/${encodeURIComponent(name)}`));
    li.append(el("span", name, "name"), restore, remove);
    return li;
  }));
}

function ruleText(rule) {
  const what = rule.drop ? "drop" : rule.delay_ms !== undefined && rule.delay_ms !== null ? `delay ${rule.delay_ms} ms` : `answer ${rule.status}`;
  const left = rule.remaining === null || rule.remaining === undefined ? "always" : `${rule.remaining} left`;
  return `#${rule.id} ${rule.method} ${rule.path}: ${what} (${left})`;
}

async function loadFaults() {
  const answer = await call("GET", "/_fake/faults", undefined, { quiet: true });
  $("faults").replaceChildren(...answer.faults.map((rule) => {
    const li = el("li");
    const remove = el("button", "Remove", "quiet");
    remove.type = "button";
    remove.setAttribute("aria-label", `Remove fault rule ${rule.id}`);
    remove.addEventListener("click", () => act("DELETE", `/_fake/faults/${rule.id}`));
    li.append(el("span", ruleText(rule), "name"), remove);
    return li;
  }));
}

async function loadClock() {
  const clock = await call("GET", "/_fake/clock", undefined, { quiet: true });
  drawClock(clock);
}

function drawClock(clock) {
  setText($("clock-now"), `${clock.now} · ${clock.frozen ? "frozen" : "running"}`);
}

async function act(method, path, body) {
  try {
    const answer = await call(method, path, body);
    if (path.startsWith("/_fake/clock")) drawClock(answer);
    if (path === "/_fake/reset") restartRequests();
    await loadControls();
    return answer;
  } catch (error) {
    fail(`${method} ${path}`)(error);
    return null;
  }
}

$("reset-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act("POST", "/_fake/reset", { to: $("reset-to").value });
});
$("snapshot-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act("POST", `/_fake/snapshots/${encodeURIComponent($("snapshot-name").value.trim())}`);
});
// What was typed, as typed: a whole number is sent as one, anything else as the text
// itself, so that the API's refusal names the field in its own words.
function typed(id) {
  const text = $(id).value.trim();
  return /^-?[0-9]{1,15}$/.test(text) ? Number(text) : text;
}

$("fault-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  // Every field the person filled in is sent, and nothing else: the page picks no
  // status, and a rule asking for two faults at once is the API's to refuse.
  // An emptied field is not sent: the API's default holds (method: any).
  const rule = {};
  if ($("fault-method").value.trim() !== "") rule.method = typed("fault-method");
  rule.path = typed("fault-path");
  for (const [id, name] of [["fault-status", "status"], ["fault-delay", "delay_ms"]]) {
    if ($(id).value.trim() !== "") rule[name] = typed(id);
  }
  if ($("fault-drop").checked) rule.drop = true;
  rule.times = $("fault-times").value.trim() === "" ? null : typed("fault-times"); // empty: always
  const error = $("fault-error");
  error.hidden = true;
  try {
    await call("POST", "/_fake/faults", rule);
    await loadControls();
  } catch (refused) {
    fail("POST /_fake/faults")(refused);
    setText(error, refusal(refused));
    error.hidden = false;
  }
});
$("faults-clear").addEventListener("click", () => act("DELETE", "/_fake/faults"));
$("clock-freeze").addEventListener("click", () => act("PUT", "/_fake/clock", { frozen: true }));
$("clock-unfreeze").addEventListener("click", () => act("PUT", "/_fake/clock", { frozen: false }));
$("clock-set").addEventListener("submit", (event) => {
  event.preventDefault();
  act("PUT", "/_fake/clock", { now: $("clock-value").value.trim() });
});
$("clock-advance").addEventListener("submit", (event) => {
  event.preventDefault();
  act("POST", "/_fake/clock/advance", { seconds: Number($("clock-seconds").value) });
});

// --- start --------------------------------------------------------------------

async function start() {
  // The server says whether a token is needed: without one, nothing is asked for.
  const guarded = document.querySelector('meta[name="apollo-fake-control"]').content === "token";
  if (guarded && state.token === null) {
    needToken();
    return;
  }
  try {
    const health = await call("GET", "/_fake/health", undefined, { quiet: true });
    if (state.token !== null) sessionStorage.setItem(TOKEN_KEY, state.token);
    $("token-error").hidden = true;
    $("token-form").hidden = true;
    $("app").hidden = false;
    const counts = health.counts;
    say(`Connected · ${counts.projects} projects, ${counts["time-entries"]} entries`);
    restartRequests();
    loop();
  } catch (error) {
    if (!(error instanceof Refused && error.status === 401)) {
      say(`The control API does not answer: ${error.message}`, true);
    }
  }
}

start();
