// app.js - the agent's web page: sign-in from the address's fragment, the
// header, the tabs, and one refresh loop that asks the agent for the status
// and for what the open view shows.
import { AuthError, get, setToken, takeTokenFromFragment, token } from './api.js';
import { fill, tone } from './dom.js';
import * as status from './views/status.js';
import * as peers from './views/peers.js';
import * as discovery from './views/discovery.js';
import * as torrents from './views/torrents.js';
import * as relay from './views/relay.js';

const REFRESH_MS = 2000;
const views = { status, peers, discovery, torrents, relay };
const $ = (id) => document.getElementById(id);

let current = 'status';
let timer = null;
let busy = false;
let signedIn = false;

function showBanner(text) {
  const b = $('banner');
  if (text) fill(b, text);
  b.hidden = !text;
}

function showLogin(why) {
  signedIn = false;
  clearTimeout(timer);
  $('tabs').hidden = true;
  for (const name of Object.keys(views)) $(`view-${name}`).hidden = true;
  $('who-email').textContent = 'not signed in';
  $('who-state').hidden = true;
  $('who-broadcast').hidden = true;
  fill($('login-why'), why || '');
  $('login-why').hidden = !why;
  $('login').hidden = false;
  showBanner(null);
  $('login-token').focus();
}

function renderHeader(st) {
  $('who-email').textContent = st.email;
  const state = $('who-state');
  // A silent agent does not register: its UNREGISTERED is no alarm.
  state.className = `badge ${st.broadcasting ? tone(st.bootstrap.state) : 'plain'}`;
  state.textContent = st.bootstrap.state;
  state.title = 'the bootstrap registration state (docs/protocol.md)';
  state.hidden = false;
  const b = $('who-broadcast');
  b.className = `badge ${st.broadcasting ? 'good' : 'plain'}`;
  b.textContent = st.broadcasting ? 'broadcasting' : 'silent';
  b.hidden = false;
  $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  document.title = `${st.email} - Flashback`;
}

// One round: the status for the header, then the open view's own data.
async function refresh() {
  if (busy || !signedIn) return;
  busy = true;
  clearTimeout(timer);
  try {
    const st = await get('/api/v1/status');
    renderHeader(st);
    await views[current].refresh(st);
    showBanner(null);
  } catch (e) {
    if (e instanceof AuthError) {
      setToken(null);
      showLogin('This token was refused by the agent. Run `peer-agent ui` again for a fresh address, or paste the token from api.token.');
      busy = false;
      return;
    }
    showBanner(e.message);
  }
  busy = false;
  if (signedIn) timer = setTimeout(refresh, REFRESH_MS);
}

function select(name, focus) {
  current = name;
  for (const [n] of Object.entries(views)) {
    const tab = $(`tab-${n}`);
    const on = n === name;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`view-${n}`).hidden = !on;
  }
  if (focus) $(`tab-${name}`).focus();
  refresh();
}

// The tabs as a WAI-ARIA tab list: arrows, Home and End move between them.
function tabKeys(e) {
  const names = Object.keys(views);
  let i = names.indexOf(current);
  if (e.key === 'ArrowRight') i = (i + 1) % names.length;
  else if (e.key === 'ArrowLeft') i = (i + names.length - 1) % names.length;
  else if (e.key === 'Home') i = 0;
  else if (e.key === 'End') i = names.length - 1;
  else return;
  e.preventDefault();
  select(names[i], true);
}

function start() {
  signedIn = true;
  $('login').hidden = true;
  $('tabs').hidden = false;
  select(current, false);
}

function init() {
  for (const [name, v] of Object.entries(views)) v.mount($(`view-${name}`), { refresh });
  for (const tab of document.querySelectorAll('[role=tab]')) {
    tab.addEventListener('click', () => select(tab.dataset.view, false));
  }
  $('tabs').addEventListener('keydown', tabKeys);
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    setToken($('login-token').value.trim());
    $('login-token').value = '';
    start();
  });
  // Another `peer-agent ui` address pasted into this tab: its token replaces the one kept.
  window.addEventListener('hashchange', () => {
    if (takeTokenFromFragment()) start();
  });
  takeTokenFromFragment();
  if (token()) start();
  else showLogin('');
}

init();
