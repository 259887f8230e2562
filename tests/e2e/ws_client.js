// tests/e2e/ws_client.js - a third-party gossip peer (Node's `ws`, Debian node-ws).
//
//   node ws_client.js HOME EMAIL URL SCENARIO [ALT_HOME]
//
// Connects with HOME's identity (identity.crt/.key as `peer-agent init` writes
// them), signs its own hello the way docs/protocol.md says, then plays SCENARIO
// and prints one JSON line: {"scenario", "hello_from", "close_code", "extensions", ...}.
// Scenarios: valid (stays VISIT_MS, default 1500), no_hello, invalid_json, binary,
// oversize, forged, replay, future, pin (ALT_HOME: another key for an email the
// agent already pinned),
// unmasked (raw TLS: a client frame without a mask),
// flood_bootstrap (ALT_HOME: a folder of homes, one fresh identity each; every
// one announces a record claiming is_bootstrap, one every 100 ms),
// bootstrap_claim (ALT_HOME: the Sybil's home, ip:port: announces a record
// claiming is_bootstrap at ip:port, listens there for 8 s and reports the
// addresses that connected as "trap_from").
// Floods (run until FB_FLOOD_S seconds, default 20, print counts):
//   idle_flood: FB_FLOOD_SESSIONS (16) sessions from each address in FB_FLOOD_FROM
//     (comma-separated local IPs, default 127.0.0.1) that never send a hello and
//     ping every second; a closed one comes back half a second later.
//   slow_reader: hello, then never reads again while it sends FB_FLOOD_MB
//     (default 48) MiB of pings, each of which the agent must answer (pings
//     only: requests would meet the engine's rate limit first).
//   sybil_hold: one session per home in FB_SYBIL_HOMES (comma-separated, each
//     made by `peer-agent init`, email from its agent.ini), the i-th from
//     127.0.0.(FB_SYBIL_FIRST_IP + i), each with a valid hello and a heartbeat
//     a second: cheap identities holding the agent's inbound sessions. With
//     FB_SYBIL_ADDRESSES=n, the i-th comes from 127.0.0.(FB_SYBIL_FIRST_IP + i % n).
// Hostile gossip (tests/e2e/test_hostile_gossip.sh): request_flood (ALT_HOME: a
// folder of homes whose big records are announced first), padded, listen
// (ALT_HOME: the email whose announcements to measure), forged_flood, shadow
// (ALT_HOME: the victim's home), big_flood (ALT_HOME: a folder of homes, one
// fresh identity each: every one's ~60 KB record announced at once).
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const tls = require('tls');
const WebSocket = require('/usr/share/nodejs/ws');

const [home, email, url, scenario, altHome] = process.argv.slice(2);
const cert = fs.readFileSync(`${home}/identity.crt`);
const key = fs.readFileSync(`${home}/identity.key`);
const result = { scenario };
const deadline = setTimeout(() => finish('timeout'),
  +(process.env.WS_DEADLINE_MS || (scenario === 'flood_bootstrap' || scenario === 'bootstrap_claim' ? 20000 : 8000)));

function finish(why) {
  clearTimeout(deadline);
  if (why) result.end = why;
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}

// Sorted keys, compact: the canonical JSON a signature covers.
function canonical(v) {
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  if (v !== null && typeof v === 'object')
    return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + canonical(v[k])).join(',') + '}';
  return JSON.stringify(v);
}

function signedRecord(who, keyPem, certPem, seq, issued) {
  const record = {
    email: who,
    peer_id: crypto.randomUUID(),
    seq,
    issued_at: new Date(issued).toISOString(),
    is_broadcasting: false,
    is_bootstrap: false,
    leaving: false,
    repositories: [{ name: 'from-node' }],
    capabilities: { max_peers: 8, supports_torrent: false, bandwidth_estimate: 0 },
  };
  const sig = crypto.sign('sha256', Buffer.from(canonical(record)), keyPem).toString('base64');
  return { record, public_certificate: certPem.toString(), signature: sig };
}

function envelope(type, payload, extra = {}) {
  return JSON.stringify(Object.assign({
    v: 1,
    id: crypto.randomUUID(),
    type,
    ttl: 4,
    timestamp: new Date().toISOString(),
    sender: { email, peer_id: crypto.randomUUID() },
    payload,
  }, extra));
}

// A signed record of the identity in dir (its email is the certificate's), silent.
function recordOfHome(dir, seq, issued, repositories) {
  const c = fs.readFileSync(`${dir}/identity.crt`);
  const k = fs.readFileSync(`${dir}/identity.key`);
  const who = new crypto.X509Certificate(c).subject.match(/CN=([^\n]+)/)[1];
  const r = signedRecord(who, k, c, seq, issued);
  r.record.repositories = repositories;
  r.record.issued_at = new Date(issued).toISOString();
  r.signature = crypto.sign('sha256', Buffer.from(canonical(r.record)), k).toString('base64');
  return r;
}

// A broadcasting record that claims is_bootstrap: anyone can sign one.
function claimedBootstrap(who, keyPem, certPem, ip, port) {
  const now = Date.now();
  const record = {
    email: who,
    peer_id: crypto.randomUUID(),
    seq: now,
    issued_at: new Date(now).toISOString(),
    is_broadcasting: true,
    is_bootstrap: true,
    leaving: false,
    socket_addresses: [ip],
    port,
    repositories: [{ name: 'alpha' }],
    capabilities: { max_peers: 8, supports_torrent: false, bandwidth_estimate: 0 },
  };
  const sig = crypto.sign('sha256', Buffer.from(canonical(record)), keyPem).toString('base64');
  return { record, public_certificate: certPem.toString(), signature: sig };
}

function homeIdentity(dir) {
  const c = fs.readFileSync(`${dir}/identity.crt`);
  return { cert: c, key: fs.readFileSync(`${dir}/identity.key`),
    email: new crypto.X509Certificate(c).subject.match(/CN=([^\n]+)/)[1] };
}

// flood_bootstrap: every home under altHome announces its own claimed-bootstrap record.
function playFloodBootstrap(ws) {
  const ids = fs.readdirSync(altHome).sort().map((d) => homeIdentity(`${altHome}/${d}`));
  let i = 0;
  result.sent = 0;
  const next = () => {
    if (i === ids.length) { setTimeout(() => ws.close(1000), 500); return; }
    const id = ids[i++];
    ws.send(envelope('PEER_ANNOUNCEMENT', { origin: claimedBootstrap(id.email, id.key, id.cert, '127.0.0.66', 9) }));
    result.sent++;
    setTimeout(next, 100);
  };
  next();
}

// bootstrap_claim: a Sybil claims is_bootstrap at a trap address and counts who dials it.
function playBootstrapClaim(ws) {
  const [sybilHome, where] = altHome.split(',');
  const [ip, port] = where.split(':');
  const id = homeIdentity(sybilHome);
  const net = require('net');
  result.trap_from = [];
  const trap = net.createServer((c) => { result.trap_from.push(c.remoteAddress); c.destroy(); });
  trap.listen(+port, ip, () => {
    ws.send(envelope('PEER_ANNOUNCEMENT', { origin: claimedBootstrap(id.email, id.key, id.cert, ip, +port) }));
    setTimeout(() => { trap.close(); ws.close(1000); }, 8000);
  });
}

// Sends HOMES' big records (about 60 KB each), then, not reading, a flood of
// PEER_REQUESTs; reads again and waits for the agent to close the session.
function requestFlood(ws, homesDir) {
  const now = Date.now();
  const desc = 'd'.repeat(1000);
  const repos = Array.from({ length: 58 }, (_, i) => ({ name: `big-${i}`, description: desc }));
  for (const h of fs.readdirSync(homesDir))
    ws.send(envelope('PEER_ANNOUNCEMENT', { origin: recordOfHome(`${homesDir}/${h}`, now, now, repos) }, { ttl: 1 }));
  setTimeout(() => {
    ws._socket.pause();
    result.requests = +(process.env.FLOOD_REQUESTS || 3000);
    for (let i = 0; i < result.requests; i++)
      ws.send(envelope('PEER_REQUEST', { repositories: [] }, { ttl: 1 }));
    setTimeout(() => { ws._socket.resume(); setTimeout(() => ws.close(1000), 3000); }, 3000);
  }, 1000);
}

// Our own newer record in an envelope padded outside the signed record.
function padded(ws) {
  const now = Date.now();
  ws.send(envelope('PEER_ANNOUNCEMENT', { origin: signedRecord(email, key, cert, now + 5, now), junk: 'J0NK' },
    { padding: 'P'.repeat(200 * 1024) }));
  setTimeout(() => ws.close(1000), 2000);
}

// Stays a neighbour and measures the announcements of target that reach it.
function listen(ws, target) {
  result.seen = 0;
  result.max_len = 0;
  result.unsigned = false;
  ws.on('message', (data) => {
    let m;
    try { m = JSON.parse(data.toString()); } catch (e) { return; }
    if (m.type !== 'PEER_ANNOUNCEMENT' || m.payload.origin.record.email !== target) return;
    result.seen++;
    result.max_len = Math.max(result.max_len, data.length);
    result.unsigned = result.unsigned || 'padding' in m || 'junk' in m.payload;
  });
  setTimeout(() => ws.close(1000), +(process.env.LISTEN_MS || 6000));
}

// Records that fail their signature, one after another, until the agent closes.
function forgedFlood(ws) {
  const now = Date.now();
  let n = 0;
  const t = setInterval(() => {
    const r = signedRecord(`forged-${n}@example.com`, key, cert, now, now); // not the certificate's email
    ws.send(envelope('PEER_ANNOUNCEMENT', { origin: r }));
    result.forged = ++n;
    if (n === 10) { clearInterval(t); setTimeout(() => ws.close(1000), 1000); }
  }, 100);
}

// The victim's record held, then copies under the id the victim's next
// announcement will use: the old record (judged old unchecked); then the genuine one.
function shadow(ws, victimHome) {
  const now = Date.now();
  const id = crypto.randomUUID();
  const held = recordOfHome(victimHome, now, now, [{ name: 'held' }]);
  ws.send(envelope('PEER_ANNOUNCEMENT', { origin: held }, { ttl: 1 }));
  setTimeout(() => ws.send(envelope('PEER_ANNOUNCEMENT', { origin: held }, { ttl: 1, id })), 300);
  setTimeout(() => ws.send(envelope('PEER_ANNOUNCEMENT',
    { origin: recordOfHome(victimHome, now + 1, now, [{ name: 'genuine-news' }]) }, { ttl: 1, id })), 600);
  setTimeout(() => ws.close(1000), 1600);
}

// Every home's big record (about 60 KB, a fresh identity each), all at once, then a wait.
function bigFlood(ws, homesDir) {
  const now = Date.now();
  const desc = 'd'.repeat(1000);
  const repos = Array.from({ length: 58 }, (_, i) => ({ name: `big-${i}`, description: desc }));
  result.sent = 0;
  result.bytes = 0;
  for (const h of fs.readdirSync(homesDir)) {
    const f = envelope('PEER_ANNOUNCEMENT', { origin: recordOfHome(`${homesDir}/${h}`, now, now, repos) });
    ws.send(f);
    result.sent++;
    result.bytes += f.length;
  }
  setTimeout(() => ws.close(1000), 3000);
}

// A broadcasting requester is answered with every record, not bootstrap peers only.
function broadcasting(r) {
  Object.assign(r.record, { is_broadcasting: true, socket_addresses: ['127.0.0.9'], port: 7443 });
  r.signature = crypto.sign('sha256', Buffer.from(canonical(r.record)), key).toString('base64');
  return r;
}

const helloRecord = signedRecord(email, key, cert, Date.now(), Date.now());
const hello = envelope('PEER_ANNOUNCEMENT',
  { origin: scenario === 'request_flood' ? broadcasting(helloRecord) : helloRecord });

// One idle session that reconnects; counts what happened to it in stats.
function idleSession(target, localAddress, stats) {
  const ws = new WebSocket(url, 'flashback-gossip.v1',
    { cert, key, rejectUnauthorized: false, localAddress });
  let pinger = null;
  let ended = false;
  const again = () => {
    if (ended) return;
    ended = true;
    clearInterval(pinger);
    if (Date.now() < target) setTimeout(() => idleSession(target, localAddress, stats), 500);
  };
  ws.on('open', () => {
    stats.opened++;
    pinger = setInterval(() => { try { ws.ping(); } catch (e) { /* closing */ } }, 1000);
  });
  ws.on('close', (code) => {
    stats.closed[code] = (stats.closed[code] || 0) + 1;
    again();
  });
  ws.on('error', () => { stats.errors++; again(); });
}

function idleFlood() {
  const seconds = +(process.env.FB_FLOOD_S || 20);
  const per = +(process.env.FB_FLOOD_SESSIONS || 16);
  const from = (process.env.FB_FLOOD_FROM || '127.0.0.1').split(',');
  const target = Date.now() + seconds * 1000;
  const stats = { opened: 0, errors: 0, closed: {} };
  clearTimeout(deadline);
  for (const ip of from)
    for (let i = 0; i < per; i++) idleSession(target, ip, stats);
  setTimeout(() => { Object.assign(result, stats); finish(); }, seconds * 1000 + 1000);
}

function slowReader() {
  const megabytes = +(process.env.FB_FLOOD_MB || 48);
  const ws = new WebSocket(url, 'flashback-gossip.v1', { cert, key, rejectUnauthorized: false });
  const ping = Buffer.alloc(125, 'p');
  let sent = 0;
  clearTimeout(deadline);
  setTimeout(() => finish('timeout'), 60000);
  ws.on('open', () => ws.send(hello));
  ws.on('message', () => {
    if (result.hello_from) return;
    result.hello_from = 'yes';
    ws._socket.pause(); // never read again: every answer stays with the agent
    const burst = () => {
      if (ws.readyState !== WebSocket.OPEN) return;
      for (let i = 0; i < 512 && sent < megabytes * 1024 * 1024; i++) {
        ws.ping(ping);
        sent += ping.length + 6;
      }
      result.sent_bytes = sent;
      if (sent < megabytes * 1024 * 1024) setImmediate(burst);
      else setTimeout(() => finish('all sent'), 3000);
    };
    burst();
  });
  ws.on('close', (code) => { result.close_code = code; result.sent_bytes = sent; finish(); });
  ws.on('error', (e) => { result.error = e.message; });
}

function sybilSession(dir, localAddress, stats) {
  const c = fs.readFileSync(`${dir}/identity.crt`);
  const k = fs.readFileSync(`${dir}/identity.key`);
  const who = fs.readFileSync(`${dir}/agent.ini`, 'utf8').match(/^email = (.+)$/m)[1];
  const ws = new WebSocket(url, 'flashback-gossip.v1', { cert: c, key: k, rejectUnauthorized: false, localAddress });
  const sender = { email: who, peer_id: crypto.randomUUID() };
  ws.on('open', () => {
    ws.send(envelope('PEER_ANNOUNCEMENT', { origin: signedRecord(who, k, c, Date.now(), Date.now()) }, { sender }));
    setInterval(() => ws.send(envelope('HEARTBEAT', { is_alive: true, is_bootstrap: false, peer_count: 0 }, { sender })), 1000);
  });
  ws.on('message', () => { if (!stats.up.includes(who)) stats.up.push(who); });
  ws.on('close', (code) => { stats.closed[code] = (stats.closed[code] || 0) + 1; });
  ws.on('error', () => { stats.errors++; });
}

function sybilHold() {
  const seconds = +(process.env.FB_FLOOD_S || 20);
  const first = +(process.env.FB_SYBIL_FIRST_IP || 20);
  const homes = process.env.FB_SYBIL_HOMES.split(',');
  const addresses = +(process.env.FB_SYBIL_ADDRESSES || homes.length);
  const stats = { up: [], errors: 0, closed: {} };
  clearTimeout(deadline);
  // One at a time, as peers arriving over a while: a burst past max_unauthenticated pushes out the oldest.
  homes.forEach((dir, i) =>
    setTimeout(() => sybilSession(dir, `127.0.0.${first + i % addresses}`, stats), 200 * i));
  setTimeout(() => { result.up = stats.up.length; result.errors = stats.errors; result.closed = stats.closed; finish(); },
    seconds * 1000);
}

if (scenario === 'sybil_hold') {
  sybilHold();
} else if (scenario === 'idle_flood') {
  idleFlood();
} else if (scenario === 'slow_reader') {
  slowReader();
} else if (scenario === 'unmasked') {
  // ws always masks, so speak RFC 6455 by hand for this one.
  const sock = tls.connect({ host: new URL(url).hostname, port: +new URL(url).port, cert, key, rejectUnauthorized: false }, () => {
    const k = crypto.randomBytes(16).toString('base64');
    sock.write(`GET /gossip/v1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${k}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: flashback-gossip.v1\r\n\r\n`);
  });
  let buf = Buffer.alloc(0);
  let upgraded = false;
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    if (!upgraded) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      result.upgrade = buf.slice(0, 12).toString();
      buf = buf.slice(end + 4);
      upgraded = true;
      const payload = Buffer.from(hello);
      const head = Buffer.from([0x81, 126, payload.length >> 8, payload.length & 255]); // FIN|text, no mask bit
      sock.write(Buffer.concat([head, payload]));
    }
    // Look for the server's close frame (opcode 8) among what arrives.
    for (let i = 0; i + 4 <= buf.length;) {
      const op = buf[i] & 15;
      let len = buf[i + 1] & 127;
      let off = i + 2;
      if (len === 126) { len = buf.readUInt16BE(off); off += 2; }
      else if (len === 127) { len = Number(buf.readBigUInt64BE(off)); off += 8; }
      if (off + len > buf.length) break;
      if (op === 8) { result.close_code = buf.readUInt16BE(off); finish(); }
      i = off + len;
    }
  });
  sock.on('error', (e) => finish('error: ' + e.message));
  sock.on('close', () => finish('closed'));
} else {
  const ws = new WebSocket(url, 'flashback-gossip.v1', { cert, key, rejectUnauthorized: false, perMessageDeflate: true });
  ws.on('open', () => {
    result.extensions = ws.extensions;
    result.protocol = ws.protocol;
    if (scenario === 'no_hello') {
      ws.send(envelope('HEARTBEAT', { is_alive: true, is_bootstrap: false, peer_count: 0 }));
      return;
    }
    ws.send(hello);
  });
  let started = false;
  ws.on('message', (data, isBinary) => {
    let m;
    try { m = JSON.parse(data.toString()); } catch (e) { return; }
    if (m.type === 'PEER_ANNOUNCEMENT' && !result.hello_from) result.hello_from = m.payload.origin.record.email;
    if (started || !result.hello_from) return;
    started = true;
    play();
  });
  ws.on('close', (code) => { result.close_code = code; finish(); });
  ws.on('error', (e) => { result.error = e.message; });

  function play() {
    const now = Date.now();
    switch (scenario) {
      case 'valid':
        ws.send(envelope('HEARTBEAT', { is_alive: true, is_bootstrap: false, peer_count: 7 }));
        setTimeout(() => ws.close(1000), +(process.env.VISIT_MS || 1500));
        break;
      case 'no_hello': break; // the agent closes: its first frame was not a hello
      case 'invalid_json': ws.send('{"v":1,'); break;
      case 'binary': ws.send(Buffer.from('{}'), { binary: true }); break;
      case 'oversize': ws.send('x'.repeat(256 * 1024 + 1)); break;
      case 'forged': {
        const r = signedRecord('forged@example.com', key, cert, now, now);
        r.record.repositories[0].name = 'tampered'; // signed over other bytes
        ws.send(envelope('PEER_ANNOUNCEMENT', { origin: r }));
        setTimeout(() => ws.close(1000), 1000);
        break;
      }
      case 'replay': {
        const e = envelope('PEER_ANNOUNCEMENT', { origin: signedRecord(email, key, cert, now + 1, now) });
        ws.send(e);
        ws.send(e);
        setTimeout(() => ws.close(1000), 1000);
        break;
      }
      case 'future':
        ws.send(envelope('PEER_ANNOUNCEMENT', { origin: signedRecord(email, key, cert, now + 2, now) },
          { timestamp: new Date(now + 120000).toISOString() }));
        setTimeout(() => ws.close(1000), 1000);
        break;
      case 'pin': {
        const altCert = fs.readFileSync(`${altHome}/identity.crt`);
        const altKey = fs.readFileSync(`${altHome}/identity.key`);
        const victim = new (require('crypto').X509Certificate)(altCert).subject.match(/CN=([^\n]+)/)[1];
        ws.send(envelope('PEER_ANNOUNCEMENT', { origin: signedRecord(victim, altKey, altCert, now * 2, now) }));
        setTimeout(() => ws.close(1000), 1000);
        break;
      }
      case 'request_flood': requestFlood(ws, altHome); break;
      case 'padded': padded(ws); break;
      case 'listen': listen(ws, altHome); break;
      case 'forged_flood': forgedFlood(ws); break;
      case 'shadow': shadow(ws, altHome); break;
      case 'big_flood': bigFlood(ws, altHome); break;
      case 'flood_bootstrap': playFloodBootstrap(ws); break;
      case 'bootstrap_claim': playBootstrapClaim(ws); break;
      default: finish('unknown scenario');
    }
  }
}
