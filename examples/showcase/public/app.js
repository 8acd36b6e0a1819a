// The showcase page: plain DOM, no build step.
const $ = (sel) => document.querySelector(sel);
const wsURL = (path) => location.origin.replace(/^http/, 'ws') + path;
let user = document.body.dataset.user || null;
let chat = null;

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function status(node, text, kind) {
  node.textContent = text;
  node.className = `status ${kind ?? ''}`;
}

// 1 · Account ---------------------------------------------------------------------------
async function refreshMe() {
  const me = await (await fetch('/api/me')).json();
  user = me.user;
  $('#whoami').textContent = user ? `Logged in as ${user} (session in the ${me.store} store, process ${me.pid}).` : 'Not logged in.';
  $('#whoami').className = `status ${user ? 'ok' : ''}`;
  $('#logout').hidden = !user;
  $('#login-form').hidden = Boolean(user);
  const server = `127.0.0.1:${location.port || (location.protocol === 'https:' ? 443 : 80)}`;
  $('#grpc-command').textContent = user
    ? `node examples/showcase/grpc-call.ts http://${server} ${me.token} "hello from ${user}"\n\n# without the token: the auth middleware's 401 → UNAUTHENTICATED\nnode examples/showcase/grpc-call.ts http://${server} - "hello"`
    : 'Log in to get a command with your token.';
  connectChat();
}

$('#login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const res = await fetch('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: $('#name').value }) });
  if (!res.ok) return status($('#whoami'), (await res.json()).error, 'bad');
  await refreshMe();
});

$('#logout').addEventListener('click', async () => {
  await fetch('/api/logout', { method: 'POST' });
  chat?.close();
  await refreshMe();
});

// 2 · Chat --------------------------------------------------------------------------------
function addMessage(line) {
  const li = line.type === 'message'
    ? el('li', {}, el('span', { className: 'who', textContent: line.user }), ` ${line.text} `, el('span', { className: 'via', textContent: `· pid ${line.via.pid}, ${line.via.protocol}` }))
    : el('li', { className: 'sys', textContent: `${line.user} ${line.type === 'join' ? 'joined' : 'left'} (pid ${line.via.pid}, ${line.via.protocol})` });
  $('#messages').append(li);
  $('#messages').scrollTop = $('#messages').scrollHeight;
}

function connectChat() {
  if (chat && chat.readyState <= WebSocket.OPEN) chat.close();
  const ws = new WebSocket(wsURL('/chat'));
  chat = ws;
  let opened = false;
  status($('#chat-status'), 'connecting…');
  ws.onopen = () => { opened = true; };
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.type === 'welcome') {
      const how = msg.protocol === 'HTTP/2' ? 'an HTTP/2 stream (RFC 8441 extended CONNECT)' : 'HTTP/1.1 (101 Switching Protocols)';
      status($('#chat-status'), `Connected as ${msg.user} over ${how}, process ${msg.pid}.`, 'ok');
      $('#messages').replaceChildren();
      msg.history.forEach(addMessage);
      $('#chat-input').disabled = $('#send').disabled = false;
    } else addMessage(msg);
  };
  ws.onclose = async () => {
    $('#chat-input').disabled = $('#send').disabled = true;
    if (chat !== ws) return;
    if (opened) return status($('#chat-status'), 'Disconnected.');
    // A browser hides a refused handshake's status: ask the same URL again to show it.
    const res = await fetch('/chat');
    status($('#chat-status'), `Refused: the handshake got ${res.status} ${res.statusText || ''}`.trim() + (res.status === 401 ? ' — log in first.' : '.'), 'bad');
  };
}

$('#chat-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('#chat-input').value.trim();
  if (text && chat?.readyState === WebSocket.OPEN) chat.send(text);
  $('#chat-input').value = '';
});

// 3 · Download ----------------------------------------------------------------------------
const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));

$('#verify').addEventListener('click', async () => {
  status($('#browser-sum'), 'checking…');
  const body = await (await fetch('/download/notes.txt')).arrayBuffer();
  const mine = b64(await crypto.subtle.digest('SHA-256', body));
  const { results } = await (await fetch('/api/probe')).json();
  $('#probe tbody').replaceChildren(...results.map((r) => {
    const trailer = r.trailers['x-checksum'];
    const ok = trailer === `sha-256=${r.computed}`;
    return el('tr', {},
      el('td', { textContent: r.client }),
      el('td', { textContent: r.error ?? r.status }),
      el('td', { textContent: r.bytes }),
      el('td', {}, trailer ? el('code', { textContent: trailer }) : el('span', { className: 'no', textContent: 'dropped (no TE: trailers)' })),
      el('td', { className: ok ? 'yes' : 'no', textContent: ok ? 'yes' : '—' }));
  }));
  const trailer = results.find((r) => r.trailers['x-checksum'])?.trailers['x-checksum'];
  const match = trailer === `sha-256=${mine}`;
  status($('#browser-sum'), `This browser got ${body.byteLength} bytes, sha-256=${mine}: ${match ? 'the trailer matches' : 'no trailer to compare'}.`, match ? 'ok' : 'bad');
  $('#probe-command').textContent = results.map((r) => r.command).join('\n');
  document.body.dataset.verified = match ? 'match' : 'mismatch';
});

// 5 · Live view -----------------------------------------------------------------------------
const WHY = {
  honoured: 'the token came back unaltered',
  ineligible: 'this connection cannot have it',
  'ineligible-required': 'required, and this connection cannot have it',
  answered: 'a middleware answered instead',
  'body-altered': 'a middleware changed the body',
  'header-dropped': 'a middleware dropped the control header',
  replaced: 'a middleware replaced the response',
  'client-gone': 'the client left first',
  'not-issued': 'a token this request never issued',
};
const TAKEN = new Set(['takeover', 'push']);
const ANSWERED = new Set(['answer', 'middleware', 'refuse', 'release']);

function verdict(escape) {
  // 'none': the response claimed no body escape (a push registration is not reported here).
  if (!escape || escape.kind === 'none') return ['', '—'];
  const word = TAKEN.has(escape.outcome) ? 'taken' : ANSWERED.has(escape.outcome) ? 'answered' : 'degraded';
  return [word, `${word}: ${escape.outcome} — ${WHY[escape.situation] ?? escape.situation}`];
}

function addEntry(entry, fresh) {
  const [cls, text] = verdict(entry.escape);
  const row = el('tr', { className: fresh ? 'new' : '' },
    el('td', { textContent: new Date(entry.time).toLocaleTimeString() }),
    el('td', { textContent: entry.pid }),
    el('td', { textContent: entry.protocol }),
    el('td', {}, el('code', { textContent: `${entry.method} ${entry.target}` })),
    el('td', { textContent: entry.status }),
    el('td', { textContent: entry.escape && entry.escape.kind !== 'none' ? entry.escape.kind : '—' }),
    el('td', { className: cls, textContent: text }));
  row.dataset.target = entry.target;
  row.dataset.status = entry.status;
  row.dataset.protocol = entry.protocol;
  $('#requests tbody').prepend(row);
  while ($('#requests tbody').children.length > 40) $('#requests tbody').lastChild.remove();
}

function connectLive() {
  const ws = new WebSocket(wsURL('/live'));
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.type === 'recent') msg.entries.forEach((entry) => addEntry(entry, false));
    else addEntry(msg, true);
  };
  ws.onclose = () => setTimeout(connectLive, 1000);
}

connectLive();
refreshMe();
