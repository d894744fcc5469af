// Actorvisor's web view: the cluster's nodes and VMs from the node's HTTP API (/api/v1), live from its
// server-sent events (VM events and counters). The API token is typed once and kept in this tab's sessionStorage.
"use strict";

const tokenKey = "actorvisor.token";
const history = new Map();   // VM name -> [{ t, exits }], the last counters samples
const counters = new Map();  // VM name -> the latest counters
let vms = [];
let consoleVm = null;
let refreshTimer = null;

const $ = (id) => document.getElementById(id);

function token() { return sessionStorage.getItem(tokenKey) || ""; }

function headers() {
  const h = { "Accept": "application/json" };
  if (token()) h["Authorization"] = "Bearer " + token();
  return h;
}

async function api(method, path) {
  const response = await fetch("/api/v1" + path, { method, headers: headers() });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const text = body && body.message ? body.message : `${response.status} ${response.statusText}`;
    throw new Error(response.status === 401 ? `${text} (enter the API token above)` : text);
  }
  return body;
}

function showMessage(text) {
  const m = $("message");
  m.textContent = text || "";
  m.hidden = !text;
}

function mib(bytes) { return `${Math.round(bytes / 1048576)} MiB`; }

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function bar(td, used, total) {
  const outer = document.createElement("span");
  outer.className = "bar";
  const inner = document.createElement("span");
  inner.style.width = `${total > 0 ? Math.min(100, Math.round(100 * used / total)) : 0}%`;
  outer.appendChild(inner);
  td.prepend(outer);
}

function renderNodes(status) {
  $("cluster-name").textContent = `cluster ${status.clusterName}`;
  const body = $("nodes").tBodies[0];
  body.replaceChildren();
  for (const n of status.nodes.filter((n) => n.roles.includes("hypervisor"))) {
    const row = body.insertRow();
    row.dataset.node = n.name;
    cell(row, n.name);
    cell(row, n.status);
    cell(row, n.acceleratorDescription || n.accelerator || "");
    bar(cell(row, `${n.usedVcpus} / ${n.vcpus}`), n.usedVcpus, n.vcpus);
    bar(cell(row, `${mib(n.usedMemoryBytes)} / ${mib(n.memoryBytes)}`), n.usedMemoryBytes, n.memoryBytes);
    cell(row, String(n.vmCount), "num");
  }
}

const actionsByStatus = {
  start: ["Created"],
  pause: ["Running"],
  resume: ["Paused"],
  stop: ["Created", "Running", "Paused"],
  destroy: ["Creating", "Created", "Running", "Paused", "Stopping", "Stopped", "Failed", "Lost"],
};

function uptime(vm) {
  if (!vm.startedAt || !["Running", "Paused"].includes(vm.status)) return "–";
  let s = Math.max(0, Math.floor((Date.now() - Date.parse(vm.startedAt)) / 1000));
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
}

function renderVms() {
  const body = $("vms").tBodies[0];
  body.replaceChildren();
  for (const vm of vms) {
    const row = body.insertRow();
    row.dataset.vm = vm.name;
    cell(row, vm.name);
    const state = cell(row, vm.status, `state state-${vm.status}`);
    if (vm.outcome) state.title = vm.outcome;
    cell(row, vm.node);
    cell(row, String(vm.vcpus), "num");
    cell(row, mib(vm.memoryBytes), "num");
    cell(row, uptime(vm), "uptime num");
    const c = counters.get(vm.name);
    cell(row, c ? String(c.exits) : "–", "exits num");
    const chartCell = row.insertCell();
    const canvas = document.createElement("canvas");
    canvas.className = "chart";
    canvas.width = 120; canvas.height = 24;
    const rate = document.createElement("span");
    rate.className = "rate";
    chartCell.append(canvas, rate);
    const actions = document.createElement("div");
    actions.className = "actions";
    row.insertCell().appendChild(actions);
    for (const [action, states] of Object.entries(actionsByStatus)) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = action;
      b.dataset.action = action;
      b.disabled = !states.includes(vm.status);
      b.addEventListener("click", () => act(vm.name, action));
      actions.appendChild(b);
    }
    const show = document.createElement("button");
    show.type = "button";
    show.textContent = "console";
    show.dataset.action = "console";
    show.addEventListener("click", () => openConsole(vm.name));
    actions.appendChild(show);
    drawChart(vm.name, canvas, rate);
  }
}

// Exits per second between successive samples, as a filled line over the last minute, and the latest figure.
function drawChart(name, canvas, label) {
  const samples = history.get(name) || [];
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  const rates = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i].t - samples[i - 1].t) / 1000;
    rates.push(dt > 0 ? Math.max(0, samples[i].exits - samples[i - 1].exits) / dt : 0);
  }
  label.textContent = rates.length ? compact(rates[rates.length - 1]) : "";
  if (rates.length < 2) return;
  const top = Math.max(1, ...rates);
  const step = canvas.width / 59;
  const x = (i) => canvas.width - 1 - (rates.length - 1 - i) * step;
  const y = (r) => canvas.height - 1 - (r / top) * (canvas.height - 3);
  g.beginPath();
  g.moveTo(x(0), canvas.height);
  rates.forEach((r, i) => g.lineTo(x(i), y(r)));
  g.lineTo(x(rates.length - 1), canvas.height);
  g.closePath();
  g.fillStyle = "rgba(47, 111, 219, 0.18)";
  g.fill();
  g.beginPath();
  rates.forEach((r, i) => (i === 0 ? g.moveTo(x(i), y(r)) : g.lineTo(x(i), y(r))));
  g.strokeStyle = "#2f6fdb";
  g.lineWidth = 1.5;
  g.stroke();
}

function compact(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M/s`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k/s`;
  return `${Math.round(n)}/s`;
}

function onCounters(snapshot) {
  $("served-by").textContent = `served by ${snapshot.node}`;
  const t = Date.parse(snapshot.at);
  for (const c of snapshot.vms) {
    counters.set(c.vm, c);
    const samples = history.get(c.vm) || [];
    samples.push({ t, exits: c.exits });
    if (samples.length > 60) samples.shift();
    history.set(c.vm, samples);
  }
  for (const row of $("vms").tBodies[0].rows) {
    const c = counters.get(row.dataset.vm);
    if (c) row.querySelector("td.exits").textContent = String(c.exits);
    drawChart(row.dataset.vm, row.querySelector("canvas.chart"), row.querySelector("span.rate"));
  }
}

async function refresh() {
  try {
    const [status, list] = await Promise.all([api("GET", "/cluster"), api("GET", "/vms")]);
    renderNodes(status);
    vms = list.vms.slice().sort((a, b) => a.name.localeCompare(b.name));
    renderVms();
    showMessage(list.unansweredNodes && list.unansweredNodes.length ? `nodes that did not answer: ${list.unansweredNodes.join(", ")}` : "");
  } catch (e) {
    showMessage(e.message);
  }
}

function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 150);
}

async function act(name, action) {
  try {
    await api("POST", `/vms/${encodeURIComponent(name)}/${action}`);
    showMessage("");
  } catch (e) {
    showMessage(`${action} ${name}: ${e.message}`);
  }
  refresh();
}

async function loadConsole() {
  if (!consoleVm) return;
  try {
    const tail = await api("GET", `/vms/${encodeURIComponent(consoleVm)}/console?bytes=8192`);
    const pre = $("console");
    pre.textContent = tail.text + (tail.ended ? `\n[console ended: ${tail.ended}]` : "");
    pre.scrollTop = pre.scrollHeight;
  } catch (e) {
    $("console").textContent = `[${e.message}]`;
  }
}

function openConsole(name) {
  consoleVm = name;
  $("console-vm").textContent = name;
  $("console-section").hidden = false;
  loadConsole();
}

// Server-sent events read through fetch, so that the token travels as a header, never in the URL.
async function followEvents() {
  for (;;) {
    try {
      const response = await fetch("/api/v1/events?countersMs=1000", { headers: headers() });
      if (!response.ok) throw new Error((await response.json().catch(() => ({}))).message || response.statusText);
      $("stream-state").textContent = "live";
      $("stream-state").className = "badge live";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = "message", data = "";
          for (const line of frame.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (event === "counters") onCounters(JSON.parse(data));
          else if (event === "vm" || event === "ended") refreshSoon();
        }
      }
    } catch (e) {
      showMessage(`event stream: ${e.message}`);
    }
    $("stream-state").textContent = "offline";
    $("stream-state").className = "badge";
    await new Promise((r) => setTimeout(r, 3000));
  }
}

function start() {
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(tokenKey, $("token-input").value);
    $("token-input").value = "";
    refresh();
  });
  $("token-clear").addEventListener("click", () => { sessionStorage.removeItem(tokenKey); refresh(); });
  $("console-close").addEventListener("click", () => { consoleVm = null; $("console-section").hidden = true; });
  setInterval(() => {
    for (const row of $("vms").tBodies[0].rows) {
      const vm = vms.find((v) => v.name === row.dataset.vm);
      if (vm) row.querySelector("td.uptime").textContent = uptime(vm);
    }
  }, 1000);
  setInterval(refresh, 5000);
  setInterval(loadConsole, 2000);
  refresh();
  followEvents();
}

start();
