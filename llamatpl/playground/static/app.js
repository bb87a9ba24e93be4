// llamatpl playground: the page calls the JSON API documented in docs/playground.md.
"use strict";

const $ = (id) => document.getElementById(id);
const DEBOUNCE_MS = 300;
const DEFAULT_CONVERSATION = { messages: [{ role: "user", content: "Hello!" }] };
let catalog = null;
let timer = null;
let seq = 0;                 // the newest update; older answers are dropped
let inflight = [];           // AbortControllers of the newest update's requests

async function api(path, body, signal) {
  const response = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal,
  });
  let answer;
  try { answer = await response.json(); } catch (e) { answer = { error: `HTTP ${response.status}` }; }
  if (!response.ok && !answer.error) answer.error = `HTTP ${response.status}`;
  return answer;
}

function option(select, value, label) {
  const o = document.createElement("option");
  o.value = value; o.textContent = label ?? value;
  select.appendChild(o);
  return o;
}

function common() {
  return {
    template: $("template").value,
    version: $("version").value,
    engine: $("engine").value,
    engine_args: $("engine-args").value,
    today: $("today").value,
    conversation: $("conversation").value,
  };
}

// ---------------------------------------------------------------- template editor
function updateGutter(findings) {
  const lines = $("template").value.split("\n").length;
  const gutter = $("gutter");
  const byLine = new Map();
  const rank = { error: 3, warning: 2, info: 1 };
  for (const f of findings || []) {
    const prev = byLine.get(f.line);
    if (!prev || rank[f.severity] > rank[prev.severity]) byLine.set(f.line, { severity: f.severity, notes: [] });
    byLine.get(f.line).notes.push(`${f.code} ${f.message}`);
  }
  gutter.textContent = "";
  for (let n = 1; n <= lines; n++) {
    const div = document.createElement("div");
    div.className = "ln";
    div.dataset.line = n;
    div.textContent = n;
    const mark = byLine.get(n);
    if (mark) { div.classList.add(mark.severity); div.title = mark.notes.join("\n"); }
    gutter.appendChild(div);
  }
  gutter.scrollTop = $("template").scrollTop;
}
let lastFindings = [];

function showFindings(answer) {
  const list = $("findings");
  list.textContent = "";
  if (answer.error) {
    $("lint-status").textContent = answer.error;
    lastFindings = [];
  } else {
    lastFindings = answer.findings;
    $("lint-status").textContent = answer.findings.length ? `${answer.findings.length}` : "none";
    for (const f of answer.findings) {
      const li = document.createElement("li");
      li.className = f.severity;
      li.dataset.line = f.line;
      li.dataset.code = f.code;
      li.innerHTML = `line <b>${f.line}</b> <span class="code"></span> <span class="msg"></span> <span class="engines"></span>`;
      li.querySelector(".code").textContent = f.code;
      li.querySelector(".msg").textContent = `${f.name}: ${f.message}`;
      li.querySelector(".engines").textContent = f.engines.length ? `(${f.engines.join(", ")})` : "";
      li.addEventListener("click", () => goToLine(f.line));
      list.appendChild(li);
    }
  }
  updateGutter(lastFindings);
}

function goToLine(line) {
  const area = $("template");
  const lines = area.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  area.focus();
  area.setSelectionRange(start, start + (lines[line - 1] || "").length);
  area.scrollTop = Math.max(0, (line - 4) * 18);
}

// ---------------------------------------------------------------- prompt view
const WS = { " ": "sp", "\n": "nl", "\t": "tab" };

function tokenSpan(piece, id, index, special) {
  const span = document.createElement("span");
  span.className = `tok t${index % 2}` + (special ? " special" : "") +
    (special && /eot_id|eom_id|end_of_text/.test(piece) ? " eot" : "");
  span.dataset.id = id;
  span.dataset.index = index;
  span.title = `token ${index}: id ${id} ${JSON.stringify(piece)}`;
  let run = "";
  const flush = () => { if (run) { span.appendChild(document.createTextNode(run)); run = ""; } };
  for (const ch of piece) {
    if (WS[ch] && !special) {
      flush();
      const ws = document.createElement("span");
      ws.className = `ws ${WS[ch]}`;
      ws.textContent = ch;
      span.appendChild(ws);
    } else run += ch;
  }
  flush();
  return span;
}

function showPrompt(answer) {
  const view = $("prompt");
  if (answer.error) {
    $("error").hidden = false;
    $("error").textContent = answer.error;
    view.classList.add("stale");
    $("status").textContent = "";
    return;
  }
  $("error").hidden = true;
  $("error").textContent = "";
  view.classList.remove("stale");
  const fragment = document.createDocumentFragment();
  answer.pieces.forEach((piece, i) => fragment.appendChild(tokenSpan(piece, answer.ids[i], i, answer.special[i])));
  view.textContent = "";
  view.appendChild(fragment);
  $("count").textContent = `${answer.count} tokens`;
  $("template-info").textContent = `Llama ${answer.version}` +
    (answer.version_reason.startsWith("detected") ? ` (${answer.version_reason})` : "");
  view.dataset.prompt = "ok";
}

$("prompt").addEventListener("mouseover", (event) => {
  const tok = event.target.closest(".tok");
  if (tok) $("hover").textContent = tok.title;
});

// ---------------------------------------------------------------- live update
function schedule() {
  clearTimeout(timer);
  timer = setTimeout(update, DEBOUNCE_MS);
}

async function update() {
  const mine = ++seq;
  inflight.forEach((c) => c.abort());
  inflight = [new AbortController(), new AbortController()];
  const [renderCtl, lintCtl] = inflight;
  const body = common();
  $("status").textContent = "rendering…";
  updateGutter(lastFindings);
  const rendering = api("/api/render", body, renderCtl.signal).then((answer) => {
    if (mine === seq) showPrompt(answer);
  });
  const linting = api("/api/lint", body, lintCtl.signal).then((answer) => {
    if (mine === seq) showFindings(answer);
  });
  try { await Promise.all([rendering, linting]); } catch (e) {
    if (e.name !== "AbortError" && mine === seq) showPrompt({ error: `cannot reach the playground: ${e.message}` });
  }
  if (mine === seq) { $("status").textContent = ""; document.body.dataset.updated = String(mine); }
}

// ---------------------------------------------------------------- verify
async function verify() {
  const out = $("verify-out");
  out.textContent = "running…";
  $("verify-btn").disabled = true;
  const answer = await api("/api/verify", { ...common(), examples: Number($("examples").value) || 50 })
    .catch((e) => ({ error: e.message }));
  $("verify-btn").disabled = false;
  out.textContent = "";
  if (answer.error) { out.innerHTML = `<div class="error"></div>`; out.firstChild.textContent = answer.error; return; }
  const head = document.createElement("div");
  head.className = `verdict ${answer.ok ? "ok" : "fail"}`;
  head.textContent = answer.ok
    ? `✓ ${answer.examples} examples match Meta's reference (${answer.dialect}, ${answer.seconds} s)`
    : `✗ ${answer.category || "no accepted conversation"} after ${answer.examples} examples (${answer.seconds} s)`;
  out.appendChild(head);
  const notes = [];
  if (answer.error) notes.push(answer.error);
  if (answer.text_divergence) notes.push(`text diverges: ${answer.text_divergence}`);
  if (answer.first_divergence !== null && answer.first_divergence !== undefined) notes.push(`first token difference at ${answer.first_divergence}`);
  const inherent = Object.entries(answer.inherent).filter(([, n]) => n).map(([k, n]) => `${k} ×${n}`);
  if (inherent.length) notes.push(`inherent (not the template's fault): ${inherent.join(", ")}`);
  if (answer.rejected) notes.push(`${answer.engine} rejected ${answer.rejected}: ${answer.first_rejection}`);
  for (const note of notes) {
    const p = document.createElement("div"); p.className = "small"; p.textContent = note; out.appendChild(p);
  }
  if (answer.counterexample) {
    const load = document.createElement("button");
    load.id = "load-counterexample"; load.type = "button";
    load.textContent = "Load the shrunk counterexample into the conversation editor";
    load.addEventListener("click", () => {
      $("conversation").value = JSON.stringify(answer.counterexample, null, 2);
      update();
    });
    const pre = document.createElement("pre");
    pre.className = "small";
    pre.textContent = JSON.stringify(answer.counterexample, null, 2);
    out.append(load, pre);
  }
}

// ---------------------------------------------------------------- diff
function splitLines(text) {
  return (text.match(/[^]*?(?:\n|<\|eot_id\|>|<\|eom_id\|>)|[^]+$/g) || []);
}

function alignRows(a, b) {
  const n = a.length, m = b.length;
  if (n * m > 4e6) {  // too long to align line by line here: show the two sides as they are
    return Array.from({ length: Math.max(n, m) }, (_, k) =>
      [a[k] ?? null, b[k] ?? null, a[k] === b[k] ? "same" : a[k] === undefined ? "add" : "del"]);
  }
  const lcs = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const rows = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) rows.push([a[i++], b[j++], "same"]);
    else if (j < m && (i >= n || lcs[i][j + 1] >= lcs[i + 1][j])) rows.push([null, b[j++], "add"]);
    else rows.push([a[i++], null, "del"]);
  }
  return rows;
}

function sideBySide(a, b, aName, bName) {
  const grid = document.createElement("div");
  grid.className = "sides";
  const cols = [aName, bName].map((name) => {
    const col = document.createElement("div"); col.className = "col";
    const title = document.createElement("div"); title.className = "row"; title.innerHTML = "<b></b>";
    title.firstChild.textContent = name; col.appendChild(title); grid.appendChild(col); return col;
  });
  for (const [left, right, kind] of alignRows(splitLines(a), splitLines(b))) {
    [left, right].forEach((text, side) => {
      const row = document.createElement("div");
      row.className = "row " + (text === null ? "gap" : kind === "same" ? "" : kind);
      row.textContent = text === null ? "" : text.replace(/\n$/, "↵");
      cols[side].appendChild(row);
    });
  }
  return grid;
}

async function diff() {
  const out = $("diff-out");
  out.textContent = "comparing…";
  const body = { ...common(), other: $("diff-other").value || undefined, engine_a: $("engine").value,
                 engine_b: $("diff-engine").value || $("engine").value };
  const answer = await api("/api/diff", body).catch((e) => ({ error: e.message }));
  out.textContent = "";
  if (answer.error && !answer.conversations) {
    out.innerHTML = `<div class="error"></div>`; out.firstChild.textContent = answer.error; return;
  }
  const aName = answer.engine_a === answer.engine_b ? answer.a : `${answer.a} (${answer.engine_a})`;
  const bName = answer.engine_a === answer.engine_b ? answer.b : `${answer.b} (${answer.engine_b})`;
  const changed = Object.entries(answer.features).filter(([, v]) => v.a !== v.b);
  const differing = answer.conversations.filter((c) => !c.identical).length;
  const head = document.createElement("div");
  head.className = "small";
  head.textContent = `${changed.length} features differ; ${differing} of ${answer.conversations.length} conversations render differently`;
  out.appendChild(head);
  if (changed.length) {
    const table = document.createElement("table"); table.className = "features";
    table.innerHTML = "<tr><th>feature</th><th></th><th></th></tr>";
    table.rows[0].cells[1].textContent = aName; table.rows[0].cells[2].textContent = bName;
    for (const [name, v] of changed) {
      const tr = table.insertRow();
      for (const text of [name, v.a, v.b]) tr.insertCell().textContent = text;
    }
    out.appendChild(table);
  }
  const left = answer.a_prompt ?? `(${answer.a_error})`;
  const right = answer.b_prompt ?? `(${answer.b_error})`;
  out.appendChild(sideBySide(left, right, `${aName} · this conversation`, bName));
}

// ---------------------------------------------------------------- downloads
function download(name, text, type) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type }));
  link.download = name;
  document.body.appendChild(link);
  link.click();
  setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 0);
}

function tokenizerConfig() {
  const config = { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>", chat_template: $("template").value };
  return JSON.stringify(config, null, 2) + "\n";
}

// ---------------------------------------------------------------- start
function loadTemplate(value) {
  if (value === "") { $("template").value = ""; }
  else if (value === ":start") { $("template").value = catalog.start.template; $("version").value = "auto"; }
  else { $("template").value = catalog.templates[value]; $("version").value = value.split(":")[1]; }
  update();
}

async function start() {
  catalog = await (await fetch("/api/catalog")).json();
  const menu = $("template-menu");
  const startName = catalog.start.template in catalog.templates ? catalog.start.template : null;
  if (catalog.start.template && !startName) option(menu, ":start", "command line file");
  option(menu, "", "blank");
  for (const name of Object.keys(catalog.templates)) {
    option(menu, name);
    option($("diff-other"), name);
  }
  for (const v of catalog.versions) option($("version"), v);
  for (const e of catalog.engines) { option($("engine"), e); option($("diff-engine"), e); }
  $("engine").value = catalog.default_engine;
  $("diff-engine").value = catalog.default_engine;
  for (const name of Object.keys(catalog.fixtures)) option($("fixture-menu"), name);
  menu.value = startName || ":start";
  $("conversation").value = JSON.stringify(catalog.start.conversation || DEFAULT_CONVERSATION, null, 2);

  menu.addEventListener("change", () => loadTemplate(menu.value));
  $("fixture-menu").addEventListener("change", (event) => {
    const name = event.target.value;
    if (!name) return;
    $("conversation").value = JSON.stringify(catalog.fixtures[name], null, 2);
    event.target.value = "";
    update();
  });
  for (const id of ["template", "conversation", "engine-args"]) $(id).addEventListener("input", schedule);
  for (const id of ["version", "engine", "today"]) $(id).addEventListener("change", update);
  $("template").addEventListener("input", () => updateGutter(lastFindings));
  $("template").addEventListener("scroll", () => { $("gutter").scrollTop = $("template").scrollTop; });
  $("template").addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    event.preventDefault();
    document.execCommand("insertText", false, "  ");
  });
  $("verify-btn").addEventListener("click", verify);
  $("diff-btn").addEventListener("click", diff);
  $("dl-template").addEventListener("click", () => download("chat_template.jinja", $("template").value, "text/plain"));
  $("dl-config").addEventListener("click", () => download("tokenizer_config.json", tokenizerConfig(), "application/json"));
  loadTemplate(menu.value);
  document.body.dataset.ready = "1";
}

start();
