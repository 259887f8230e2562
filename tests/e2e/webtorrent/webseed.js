// webseed.js TORRENT_FILE - browser WebTorrent downloads a torrent from its
// web seed only (the .torrent's url-list; no tracker, no WebRTC peer) in
// Debian's headless chromium, and this prints the SHA-256 of what it got.
//
// The page comes from a small HTTP server of its own on 127.0.0.1 (another
// origin than the web seed's, so every Range request is cross-origin and
// preflighted, as in real use); it serves the page, WebTorrent's browser
// bundle and the .torrent's bytes. Exit 0 with "sha256 HEX" on stdout, or
// 1 with the page's error.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const { chromium } = require('playwright-core');

const TIMEOUT_MS = 120000;
const bundle = path.join(__dirname, 'node_modules/webtorrent/dist/webtorrent.min.js');

const page = `<!doctype html><meta charset="utf-8"><title>web seed</title>
<script type="module">
import WebTorrent from '/webtorrent.min.js';
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
try {
  const bytes = new Uint8Array(await (await fetch('/file.torrent')).arrayBuffer());
  const client = new WebTorrent({ tracker: false, dht: false, lsd: false, utPex: false, webSeeds: true });
  client.on('error', (e) => { window.failure = 'client: ' + e; });
  client.add(bytes, { announce: [] }, (torrent) => {
    torrent.on('error', (e) => { window.failure = 'torrent: ' + e; });
    torrent.on('done', async () => {
      const data = await torrent.files[0].arrayBuffer();
      window.result = { sha256: hex(await crypto.subtle.digest('SHA-256', data)),
                        length: data.byteLength, peers: torrent.numPeers };
    });
  });
} catch (e) {
  window.failure = 'page: ' + e;
}
</script>`;

async function main() {
  const torrent = fs.readFileSync(process.argv[2]);
  const server = http.createServer((req, res) => {
    const send = (type, body) => {
      res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length });
      res.end(body);
    };
    if (req.url === '/') send('text/html; charset=utf-8', Buffer.from(page));
    else if (req.url === '/webtorrent.min.js') send('text/javascript', fs.readFileSync(bundle));
    else if (req.url === '/file.torrent') send('application/x-bittorrent', torrent);
    else { res.writeHead(404); res.end(); }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true });
  try {
    const tab = await browser.newPage();
    tab.on('console', (m) => process.stderr.write(`console: ${m.text()}\n`));
    tab.on('pageerror', (e) => process.stderr.write(`pageerror: ${e}\n`));
    tab.on('response', (r) => {
      if (r.status() >= 400) process.stderr.write(`http ${r.status()}: ${r.request().method()} ${r.url()}\n`);
    });
    await tab.goto(`http://127.0.0.1:${server.address().port}/`);
    await tab.waitForFunction(() => window.result || window.failure, null, { timeout: TIMEOUT_MS });
    const { result, failure } = await tab.evaluate(() => ({ result: window.result, failure: window.failure }));
    if (failure) throw new Error(failure);
    process.stderr.write(`downloaded ${result.length} bytes, ${result.peers} peers\n`);
    process.stdout.write(`sha256 ${result.sha256}\n`);
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((e) => {
  process.stderr.write(`webseed.js: ${e.message || e}\n`);
  process.exit(1);
});
