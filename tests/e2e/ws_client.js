// tests/e2e/ws_client.js - a third-party gossip peer (Node's `ws`, Debian node-ws).
//
//   node ws_client.js HOME EMAIL URL SCENARIO [ALT_HOME]
//
// Connects with HOME's identity (identity.crt/.key as `peer-agent init` writes
// them), signs its own hello the way docs/protocol.md says, then plays SCENARIO
// and prints one JSON line: {"scenario", "hello_from", "close_code", "extensions", ...}.
// Scenarios: valid, no_hello, invalid_json, binary, oversize, forged, replay,
// future, pin (ALT_HOME: another key for an email the agent already pinned),
// unmasked (raw TLS: a client frame without a mask),
// flood_bootstrap (ALT_HOME: a folder of homes, one fresh identity each; every
// one announces a record claiming is_bootstrap, one every 100 ms),
// bootstrap_claim (ALT_HOME: the Sybil's home, ip:port: announces a record
// claiming is_bootstrap at ip:port, listens there for 8 s and reports the
// addresses that connected as "trap_from").
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const tls = require('tls');
const WebSocket = require('/usr/share/nodejs/ws');

const [home, email, url, scenario, altHome] = process.argv.slice(2);
const cert = fs.readFileSync(`${home}/identity.crt`);
const key = fs.readFileSync(`${home}/identity.key`);
const result = { scenario };
const deadline = setTimeout(() => finish('timeout'), scenario === 'flood_bootstrap' || scenario === 'bootstrap_claim' ? 20000 : 8000);

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

const hello = envelope('PEER_ANNOUNCEMENT', { origin: signedRecord(email, key, cert, Date.now(), Date.now()) });

if (scenario === 'unmasked') {
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
        setTimeout(() => ws.close(1000), 1500);
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
      case 'flood_bootstrap': playFloodBootstrap(ws); break;
      case 'bootstrap_claim': playBootstrapClaim(ws); break;
      default: finish('unknown scenario');
    }
  }
}
