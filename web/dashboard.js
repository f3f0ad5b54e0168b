// The dashboard of `concur collect --web PORT`: one live chart per device (uPlot, compiled into
// the binary), the device's online/offline state and its latest reading. The server sends, over
// the WebSocket /ws: {"type":"hello",...}, then {"type":"history",...} per device, then
// {"type":"reading","reading":{...}} as readings arrive. Text reaches the page via textContent only.
'use strict';

const MAX_POINTS = 1200;   // per device, as the server keeps
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const devicesEl = document.getElementById('devices');
const statusEl = document.getElementById('status');
const emptyEl = document.getElementById('empty');
const devices = new Map();  // name -> state
let offlineAfter = 15;      // seconds, from the server's hello
let skew = 0;               // server clock - our clock, seconds
let retryMs = 500;

function setStatus(state, text) {
  statusEl.dataset.state = state;
  statusEl.textContent = text;
}

function fieldsOf(r) {
  return Object.keys(r).filter((k) => k !== 'time' && k !== 'device');
}

function makePlot(d) {
  d.chartEl.textContent = '';
  if (!window.uPlot) {
    d.chartEl.textContent = 'charts unavailable: uPlot was not installed when this binary was built';
    d.chartEl.className = 'chart missing';
    return;
  }
  const series = [{}];
  d.keys.forEach((k, i) => series.push({label: k, scale: k, stroke: COLOURS[i % COLOURS.length], width: 1.5,
                                         points: {show: true, size: 5}}));
  const axes = [{}];
  if (d.keys[0]) axes.push({scale: d.keys[0], label: d.keys[0]});
  if (d.keys[1]) axes.push({scale: d.keys[1], label: d.keys[1], side: 1, grid: {show: false}});
  const width = Math.max(320, d.chartEl.clientWidth || 440);
  d.plot = new uPlot({width, height: 220, series, axes, scales: {x: {time: true}}, legend: {live: false}},
                     d.data, d.chartEl);
}

function ensureDevice(name, keys) {
  let d = devices.get(name);
  if (d && keys.every((k) => d.keys.includes(k))) return d;
  if (!d) {
    const card = document.createElement('section');
    card.className = 'device';
    card.dataset.device = name;
    card.dataset.points = '0';
    const h = document.createElement('h2');
    const title = document.createElement('span');
    title.textContent = name;
    const state = document.createElement('span');
    state.className = 'state';
    h.append(title, state);
    const latest = document.createElement('div');
    latest.className = 'latest';
    const chart = document.createElement('div');
    chart.className = 'chart';
    card.append(h, latest, chart);
    // Cards in name order, whatever order devices first report in.
    const after = [...devicesEl.children].find((c) => c.dataset.device > name);
    devicesEl.insertBefore(card, after || null);
    emptyEl.hidden = true;
    d = {name, card, stateEl: state, latestEl: latest, chartEl: chart, keys: [], data: [[]], last: null, plot: null,
         dirty: false};
    devices.set(name, d);
  }
  // New metrics: a column each (earlier points have none), and a plot with a series for it.
  for (const k of keys) {
    if (d.keys.includes(k)) continue;
    d.keys.push(k);
    d.data.push(d.data[0].map(() => null));
  }
  if (d.plot) d.plot.destroy();
  d.plot = null;
  makePlot(d);
  return d;
}

function addReadings(name, readings) {
  if (!readings.length) return;
  const d = ensureDevice(name, [...new Set(readings.flatMap(fieldsOf))]);
  for (const r of readings) {
    d.data[0].push(r.time);
    d.keys.forEach((k, i) => d.data[i + 1].push(k in r ? r[k] : null));
    if (!d.last || r.time >= d.last.time) d.last = r;
  }
  const extra = d.data[0].length - MAX_POINTS;
  if (extra > 0) d.data = d.data.map((col) => col.slice(extra));
  d.card.dataset.points = String(d.data[0].length);
  d.latestEl.textContent = new Date(d.last.time * 1000).toLocaleTimeString() + '  ' +
      fieldsOf(d.last).map((k) => `${k}=${d.last[k]}`).join(', ');
  if (!d.dirty) {  // one redraw per frame, however many readings arrive
    d.dirty = true;
    requestAnimationFrame(() => {
      d.dirty = false;
      if (d.plot) d.plot.setData(d.data);
    });
  }
  updateState(d);
}

function updateState(d) {
  const now = Date.now() / 1000 + skew;
  const online = d.last && now - d.last.time < offlineAfter;
  d.stateEl.textContent = online ? 'online' : 'offline';
  d.stateEl.className = 'state ' + (online ? 'online' : 'offline');
  d.card.dataset.state = online ? 'online' : 'offline';
}

function reset() {
  for (const d of devices.values()) {
    if (d.plot) d.plot.destroy();
    d.card.remove();
  }
  devices.clear();
  emptyEl.hidden = false;
}

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  const ws = new WebSocket(scheme + location.host + '/ws');
  setStatus('connecting', 'connecting…');
  ws.onopen = () => {
    retryMs = 500;
    reset();  // the server sends the whole history again
    setStatus('open', 'live');
  };
  ws.onmessage = (ev) => {
    let m;
    try {
      m = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (m.type === 'hello') {
      offlineAfter = m.offline_after;
      skew = m.now - Date.now() / 1000;
    } else if (m.type === 'history') {
      addReadings(m.device, m.readings);
    } else if (m.type === 'reading') {
      addReadings(m.reading.device, [m.reading]);
    }
  };
  ws.onclose = () => {
    setStatus('reconnecting', `disconnected; reconnecting in ${(retryMs / 1000).toFixed(1)} s`);
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 5000);
  };
}

setInterval(() => devices.forEach(updateState), 1000);
connect();
