// ui.test.js - the agent's web page in Debian's headless chromium, against
// agents tests/e2e/test_ui.sh started. Prints "ok - ..." or "not ok - ..."
// per check and exits 1 when any failed.
//
// Environment (from test_ui.sh):
//   FB_UI_ALICE, FB_UI_BOB, FB_UI_CAROL   each agent's `peer-agent ui` address
//   FB_UI_SILENT_IP      carol's (silent) address: on no page, ever
//   FB_UI_XSS_REPO       a repository name of alice's made of HTML
//   FB_UI_SHARE_PATH     a file alice shares through the page
//   FB_UI_DEST           the folder carol downloads it into
//   FB_UI_SCREENSHOTS    when set, a folder for a screenshot of each view
'use strict';
const path = require('path');
const { chromium } = require('playwright-core');

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set`);
  return process.env[k];
};
const URLS = { alice: env('FB_UI_ALICE'), bob: env('FB_UI_BOB'), carol: env('FB_UI_CAROL') };
const SILENT_IP = env('FB_UI_SILENT_IP');
const XSS_REPO = env('FB_UI_XSS_REPO');
const SHOTS = process.env.FB_UI_SCREENSHOTS || '';
const WAIT_MS = 30000;

let failed = 0;
const problems = [];

async function check(name, fn) {
  try {
    await fn();
    console.log(`ok - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}: ${(e && e.message ? e.message : String(e)).split('\n').slice(0, 12).join('\n    ')}`);
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function shot(page, name) {
  if (!SHOTS) return;
  // The clock in the header changes every refresh: wait for a quiet moment.
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(SHOTS, `ui-${name}.png`) });
}

// A tab that records what must never happen: script errors, CSP violations
// (chromium logs them as console errors), dialogs (an alert() that ran).
async function open(ctx, who, url) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => problems.push(`${who}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 401/.test(m.text())) {
      problems.push(`${who}: console error: ${m.text()}`);
    }
  });
  page.on('dialog', (d) => {
    problems.push(`${who}: a dialog opened: ${d.message()}`);
    d.dismiss();
  });
  await page.goto(url || URLS[who]);
  return page;
}

async function tab(page, name) {
  // A tab in the background gets no animation frames, which clicks wait for.
  await page.bringToFront();
  await page.click(`#tab-${name}`);
  await page.waitForSelector(`#view-${name}:not([hidden])`);
}

const emails = (page) => page.$$eval('#peers tbody tr[data-email]', (rows) => rows.map((r) => r.dataset.email));
const cellText = (page, email, col) => page.$eval(`#peers tr[data-email="${email}"] td[data-col="${col}"]`, (td) => td.textContent);

async function waitRows(page, pred, what) {
  const t0 = Date.now();
  for (;;) {
    const got = await emails(page);
    if (pred(got)) return got;
    if (Date.now() - t0 > WAIT_MS) throw new Error(`${what}: rows are ${JSON.stringify(got)}`);
    await page.waitForTimeout(250);
  }
}

async function waitCell(page, email, col, pred, what) {
  const t0 = Date.now();
  let last = null;
  for (;;) {
    last = await cellText(page, email, col).catch(() => null);
    if (last !== null && pred(last)) return last;
    if (Date.now() - t0 > WAIT_MS) throw new Error(`${what}: ${col} of ${email} is ${JSON.stringify(last)}`);
    await page.waitForTimeout(250);
  }
}

// Each view of page, checked for the silent agent's address.
async function noSilentAddress(page, who) {
  for (const v of ['status', 'peers', 'discovery', 'torrents', 'relay']) {
    await tab(page, v);
    await page.waitForTimeout(400);
    const html = await page.content();
    const text = await page.evaluate(() => document.body.innerText);
    assert(!html.includes(SILENT_IP) && !text.includes(SILENT_IP), `${who}'s ${v} view shows ${SILENT_IP}`);
  }
}

async function main() {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
  const base = (u) => u.slice(0, u.indexOf('#'));
  let alice;
  let bob;
  let carol;

  await check('a wrong token shows a clear message, and no view', async () => {
    const page = await open(ctx, 'wrong', `${base(URLS.alice)}#token=not-the-token`);
    await page.waitForSelector('#login:not([hidden])');
    const why = await page.textContent('#login-why');
    assert(/refused/.test(why), `the message is ${JSON.stringify(why)}`);
    assert(await page.isHidden('#tabs'), 'the tabs are shown');
    await shot(page, 'login');
    await page.close();
  });

  await check('alice signs in through the `peer-agent ui` address; the token leaves the address bar', async () => {
    alice = await open(ctx, 'alice');
    await alice.waitForFunction(() => document.getElementById('who-email').textContent === 'alice@example.com');
    assert(!alice.url().includes('token'), `the address is ${alice.url()}`);
    const kept = await alice.evaluate(() => sessionStorage.getItem('flashback.token'));
    assert(kept && URLS.alice.endsWith(encodeURIComponent(kept)), 'the token is not in sessionStorage');
    const state = await alice.textContent('#who-state');
    assert(state === 'REGISTERED', `alice's bootstrap state is ${state}`);
  });

  await check('a reload keeps the session (sessionStorage), with no token in the address', async () => {
    await alice.reload();
    await alice.waitForFunction(() => document.getElementById('who-email').textContent === 'alice@example.com');
  });

  await check('the status view: broadcasting on, the bootstrap state, counters', async () => {
    await alice.waitForSelector('#broadcast-toggle[aria-checked="true"]');
    const text = await alice.textContent('#view-status');
    for (const want of ['REGISTERED', 'Sessions open', 'Frame verdicts', 'accepted']) {
      assert(text.includes(want), `no "${want}"`);
    }
    assert(await alice.$('#view-status svg.graph circle.node.me'), 'no session drawing');
    assert(text.includes(XSS_REPO), 'her repositories are not shown');
    assert(await alice.$$eval('#view-status b, #view-status img', (n) => n.length) === 0, 'markup from a name');
    const field = await alice.inputValue('#broadcast-repos');
    assert(field === `photos, ${XSS_REPO}`, `the repositories field holds ${JSON.stringify(field)}`);
    await shot(alice, 'status');
  });

  await check('the keyboard moves between tabs (arrow keys) and focuses the selected one', async () => {
    await alice.focus('#tab-status');
    await alice.keyboard.press('ArrowRight');
    await alice.waitForSelector('#view-peers:not([hidden])');
    const focused = await alice.evaluate(() => document.activeElement.id);
    assert(focused === 'tab-peers', `focus is on ${focused}`);
  });

  await check('alice sees bob and carol in her table; carol (silent) with no address', async () => {
    await tab(alice, 'peers');
    await waitRows(alice, (r) => r.includes('bob@example.com') && r.includes('carol@example.com'), 'bob and carol');
    await waitCell(alice, 'carol@example.com', 'addresses', (t) => t === 'silent', 'carol silent');
    await waitCell(alice, 'bob@example.com', 'addresses', (t) => t.includes('127.0.0.3'), "bob's address");
  });

  await check('sorting: by email both ways, by score', async () => {
    await alice.click('#peers th[data-key="email"] button');
    let rows = await emails(alice);
    assert(JSON.stringify(rows) === JSON.stringify([...rows].sort().reverse()), `descending: ${rows}`);
    assert(await alice.getAttribute('#peers th[data-key="email"]', 'aria-sort') === 'descending', 'aria-sort');
    await alice.click('#peers th[data-key="email"] button');
    rows = await emails(alice);
    assert(JSON.stringify(rows) === JSON.stringify([...rows].sort()), `ascending: ${rows}`);
    await alice.click('#peers th[data-key="score"] button');
    const scores = await alice.$$eval('#peers td[data-col="score"]', (tds) => tds.map((t) => Number(t.textContent)));
    assert(scores.every((s, i) => i === 0 || scores[i - 1] <= s), `scores ${scores}`);
    await alice.click('#peers th[data-key="email"] button');
    // The table is redrawn every two seconds; the keyboard focus stays on the same header.
    await alice.waitForTimeout(2500);
    const focus = await alice.evaluate(() => document.activeElement.dataset.focus);
    assert(focus === 'sort:email', `after a refresh the focus is on ${focus}`);
  });

  await check('filtering by text, repository and state', async () => {
    await alice.fill('#peer-filter-text', 'bob');
    let rows = await emails(alice);
    assert(JSON.stringify(rows) === '["bob@example.com"]', `text "bob": ${rows}`);
    await alice.fill('#peer-filter-text', '');
    await alice.selectOption('#peer-filter-repo', 'photos');
    rows = await emails(alice);
    assert(JSON.stringify(rows) === '["carol@example.com"]', `repository photos: ${rows}`);
    await alice.selectOption('#peer-filter-repo', '');
    await alice.selectOption('#peer-filter-state', 'STALE');
    rows = await emails(alice);
    assert(rows.length === 0, `state STALE: ${rows}`);
    assert((await alice.textContent('#peer-table')).includes('No peer matches'), 'no empty-filter message');
    await alice.selectOption('#peer-filter-state', '');
    rows = await emails(alice);
    assert(rows.length === 2, `no filter: ${rows}`);
  });

  await check('the detail view of one peer, opened from the keyboard', async () => {
    await alice.focus('#peers tr[data-email="carol@example.com"] button.link');
    await alice.keyboard.press('Enter');
    await alice.waitForSelector('#peer-detail article');
    const text = await alice.textContent('#peer-detail');
    assert(text.includes('carol@example.com') && text.includes('no (silent)') && text.includes('Peer id'), text.slice(0, 200));
  });

  await check(`a repository named ${JSON.stringify(XSS_REPO)} is shown as text, never as HTML`, async () => {
    bob = await open(ctx, 'bob');
    await tab(bob, 'peers');
    await waitRows(bob, (r) => r.includes('alice@example.com'), 'alice in bob\'s table');
    await waitCell(bob, 'alice@example.com', 'repositories', (t) => t.includes(XSS_REPO), 'the repository name');
    const injected = await bob.$$eval('#view-peers b, #view-peers img, #view-peers script', (n) => n.length);
    assert(injected === 0, `${injected} elements came from the name`);
    await bob.selectOption('#peer-filter-repo', XSS_REPO);
    const rows = await emails(bob);
    assert(JSON.stringify(rows) === '["alice@example.com"]', `filtered by it: ${rows}`);
    await bob.selectOption('#peer-filter-repo', '');
    assert(await bob.evaluate(() => window.xss === undefined), 'a script from the name ran');
    await bob.click('#peers tr[data-email="alice@example.com"] button.link');
    await bob.waitForSelector('#peer-detail article');
    assert((await bob.textContent('#peer-detail')).includes(XSS_REPO), 'not in the detail view');
    await shot(bob, 'peers');
  });

  await check('carol (silent) runs a discovery: results with their source and time taken', async () => {
    carol = await open(ctx, 'carol');
    await tab(carol, 'discovery');
    await carol.fill('#discover-repos', 'music');
    await carol.click('#discover-go');
    await carol.waitForFunction(() => /found in \d+ ms/.test(document.getElementById('discover-status').textContent), null, { timeout: WAIT_MS });
    const text = await carol.textContent('#discover-results');
    assert(text.includes('bob@example.com'), `no bob in ${text}`);
    assert(/table|gossip|bootstrap/.test(text), 'no source');
    assert(/\d+ ms/.test(text), 'no time taken');
    await shot(carol, 'discovery');
  });

  await check('bob turns broadcasting off on his page; alice\'s table shows him silent, then back', async () => {
    await tab(bob, 'status');
    await bob.waitForSelector('#broadcast-toggle[aria-checked="true"]');
    await bob.click('#broadcast-toggle');
    await bob.waitForSelector('#broadcast-toggle[aria-checked="false"]');
    await waitCell(alice, 'bob@example.com', 'addresses', (t) => t === 'silent', 'bob silent at alice');
    await bob.focus('#broadcast-toggle');
    await bob.keyboard.press('Space');
    await bob.waitForSelector('#broadcast-toggle[aria-checked="true"]');
    await waitCell(alice, 'bob@example.com', 'addresses', (t) => t.includes('127.0.0.3'), 'bob broadcasting at alice');
  });

  let magnet = '';
  await check('alice shares a file from the torrents view; it is listed, seeding', async () => {
    await tab(alice, 'torrents');
    await alice.fill('#create-path', env('FB_UI_SHARE_PATH'));
    await alice.click('#torrent-create button[type=submit]');
    await alice.waitForFunction(() => /^Seeding /.test(document.getElementById('torrent-create-msg').textContent), null, { timeout: WAIT_MS });
    await alice.waitForSelector('#torrents tbody tr[data-info-hash]');
    const text = await alice.textContent('#torrents');
    assert(text.includes('seeding') && text.includes('100%'), text.slice(0, 300));
    magnet = await alice.$eval('#torrents tbody tr[data-info-hash] details code', (c) => c.textContent);
    assert(magnet.startsWith('magnet:?'), `magnet ${magnet}`);
  });

  await check('an opened magnet link stays open across refreshes', async () => {
    await alice.bringToFront();
    await alice.click('#torrents tbody tr[data-info-hash] summary');
    await alice.waitForTimeout(2500);
    assert(await alice.$('#torrents tbody tr[data-info-hash] details[open]'), 'it closed again');
  });

  await check('carol downloads it from the magnet link; the progress bar reaches 100%', async () => {
    await tab(carol, 'torrents');
    await carol.fill('#get-magnet', magnet);
    await carol.fill('#get-dest', env('FB_UI_DEST'));
    await carol.click('#torrent-get button[type=submit]');
    await carol.waitForFunction(() => /^Downloading /.test(document.getElementById('torrent-get-msg').textContent), null, { timeout: WAIT_MS });
    await carol.waitForFunction(() => {
      const bar = document.querySelector('#torrents [role=progressbar]');
      return bar && bar.getAttribute('aria-valuenow') === '100';
    }, null, { timeout: 60000 });
    await shot(carol, 'torrents');
  });

  await check('the relay view: carol\'s reservations and circuits, alice serving', async () => {
    await tab(carol, 'relay');
    await carol.waitForSelector('#relay h2');
    const text = await carol.textContent('#relay');
    assert(text.includes('Reservations held') && text.includes('Circuits'), text.slice(0, 200));
    await tab(alice, 'relay');
    await alice.waitForSelector('#relay h2');
    await shot(carol, 'relay');
  });

  await check(`carol's address ${SILENT_IP} is on no view of any agent's page`, async () => {
    for (const [who, page] of [['alice', alice], ['bob', bob], ['carol', carol]]) await noSilentAddress(page, who);
  });

  await check('a narrow window: the peer table stays usable', async () => {
    const narrow = await browser.newContext({ viewport: { width: 400, height: 760 }, colorScheme: 'light' });
    const page = await open(narrow, 'narrow', URLS.alice);
    await tab(page, 'peers');
    await waitRows(page, (r) => r.length === 2, 'two peers');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 1, `the page is ${overflow}px wider than the window`);
    await shot(page, 'narrow');
    await narrow.close();
  });

  await check('no script error, CSP violation or dialog on any page', async () => {
    assert(problems.length === 0, problems.join('; '));
  });

  await browser.close();
  console.log(failed === 0 ? 'ui: all checks passed' : `ui: ${failed} checks failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.log(`not ok - ui.test.js: ${e.stack || e}`);
  process.exit(1);
});
