// The chat page of `concur chat-server --web PORT`. One WebSocket to /ws; every WebSocket text
// message is one chat message in the TCP wire format without the newline: we send "[ID]" to join
// and "[ID]text" to speak; we receive "[ID]text" and "error: …".
// It asks for offsets (/ws?offsets=1): the server first says "offsets <epoch> <newest offset>",
// then sends each message of the room's history as "<offset> [ID]text". The last offset is kept
// in sessionStorage, so a reload or a reconnect asks /ws?since=<offset>&epoch=<epoch> and gets
// what it missed, once; those lines (offset <= the newest at connect) are shown as replayed.
// Received text only ever reaches the page through textContent (never innerHTML), and the page's
// Content-Security-Policy forbids inline script as a second wall.
'use strict';

const MAX_LINES = 500;          // older lines are removed, so a long session stays light
const REFUSED = 4000;           // the server's close code for "refused: do not reconnect"
const logEl = document.getElementById('log');
const statusEl = document.getElementById('status');
const joinForm = document.getElementById('join');
const sayForm = document.getElementById('say');
const idInput = document.getElementById('id');
const textInput = document.getElementById('text');

let myId = new URLSearchParams(location.search).get('id') || '';
let ws = null;
let retryMs = 500;
let received = 0;
let scrollPending = false;
let replayedUpTo = 0;  // offsets at or below it were said before this connection: replayed

const resumeKey = () => `concur.chat.${myId}`;
function resumePoint() {
  try {
    return JSON.parse(sessionStorage.getItem(resumeKey()) || 'null');
  } catch (e) {
    return null;
  }
}
function saveResumePoint(epoch, offset) {
  try {
    sessionStorage.setItem(resumeKey(), JSON.stringify({epoch, offset}));
  } catch (e) { /* storage may be off: resuming is then lost, nothing else */ }
}

function setStatus(state, text) {
  statusEl.dataset.state = state;
  statusEl.textContent = text;
}

// A stable colour per ID, so that a sender is easy to follow.
function colourOf(id) {
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return `hsl(${h % 360}, 65%, 38%)`;
}

function addLine(kind, from, text) {
  const li = document.createElement('li');
  li.className = kind;
  if (from !== null) {
    const name = document.createElement('span');
    name.className = 'from';
    name.textContent = `[${from}]`;
    name.style.color = colourOf(from);
    li.dataset.from = from;
    li.appendChild(name);
  }
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  li.appendChild(body);
  logEl.appendChild(li);
  while (logEl.childElementCount > MAX_LINES) logEl.firstElementChild.remove();
  if (!scrollPending) {  // one layout per frame, however many lines arrive
    scrollPending = true;
    requestAnimationFrame(() => {
      scrollPending = false;
      logEl.scrollTop = logEl.scrollHeight;
    });
  }
}

function onMessage(data) {
  if (data.startsWith('offsets ')) {  // "offsets <epoch> <newest>": where this connection starts
    const [, epoch, newest] = data.split(' ');
    replayedUpTo = Number(newest);
    const had = resumePoint();
    saveResumePoint(epoch, had && had.epoch === epoch ? had.offset : replayedUpTo);
    return;
  }
  let replayed = false;
  const m = /^(\d+) /.exec(data);
  if (m) {
    const offset = Number(m[1]);
    data = data.slice(m[0].length);
    replayed = offset <= replayedUpTo;
    const at = resumePoint();
    if (at) saveResumePoint(at.epoch, offset);
  }
  received++;
  document.body.dataset.received = String(received);
  if (data.startsWith('error: ')) {
    addLine('error', null, data);
    return;
  }
  const close = data.indexOf(']');
  const extra = replayed ? ' replayed' : '';
  if (data.startsWith('[') && close > 0) {
    const from = data.slice(1, close);
    const text = data.slice(close + 1);
    if (text === '') addLine('join' + extra, from, ' joined');
    else addLine('msg' + extra, from, text);
  } else {
    addLine('msg' + extra, null, data);
  }
}

function showJoined(joined) {
  joinForm.hidden = joined;
  sayForm.hidden = !joined;
  if (joined) textInput.focus();
  else idInput.focus();
}

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  const at = resumePoint();
  const query = at ? `since=${at.offset}&epoch=${encodeURIComponent(at.epoch)}` : 'offsets=1';
  ws = new WebSocket(`${scheme}${location.host}/ws?${query}`);
  setStatus('connecting', 'connecting…');
  ws.onopen = () => {
    retryMs = 500;
    ws.send(`[${myId}]`);
    setStatus('open', `connected as ${myId}`);
    showJoined(true);
  };
  ws.onmessage = (ev) => {
    if (typeof ev.data === 'string') onMessage(ev.data);
  };
  ws.onclose = (ev) => {
    ws = null;
    if (ev.code === REFUSED || myId === '') {
      setStatus('closed', 'not connected');
      myId = '';
      showJoined(false);
      return;
    }
    if (ev.code === 1000) {  // we quit
      setStatus('closed', 'left the room');
      myId = '';
      showJoined(false);
      return;
    }
    setStatus('reconnecting', `disconnected; reconnecting in ${(retryMs / 1000).toFixed(1)} s`);
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 5000);
  };
}

joinForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  myId = idInput.value.trim();
  if (myId && !ws) connect();
});

sayForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = textInput.value;
  if (!text || !ws || ws.readyState !== WebSocket.OPEN) return;
  ws.send(`[${myId}]${text}`);
  if (text !== 'quit') addLine('msg mine', myId, text);
  textInput.value = '';
});

if (myId) {
  idInput.value = myId;
  connect();
} else {
  setStatus('closed', 'pick an ID to join');
  showJoined(false);
}
