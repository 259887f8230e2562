// views/peers.js - the peer table: every PeerInfo column that matters, sorted
// by any of them, filtered by repository, state or text, and one peer's
// details. A silent peer's addresses are never in PeerInfo: it shows "silent".
import { get } from '../api.js';
import { ago, badge, el, facts, fill, parseTime, tone, when } from '../dom.js';

const COLUMNS = [
  { key: 'email', title: 'Email', value: (p) => p.email },
  { key: 'peer_status', title: 'Status', value: (p) => p.peer_status },
  { key: 'state', title: 'State', value: (p) => p.state },
  { key: 'score', title: 'Score', value: (p) => p.score, num: true },
  { key: 'addresses', title: 'Addresses', value: (p) => addresses(p) },
  { key: 'repositories', title: 'Repositories', value: (p) => repoNames(p).join(', ') },
  { key: 'last_seen', title: 'Last seen', value: (p) => parseTime(p.last_seen) || 0, num: true },
  { key: 'via', title: 'Via relay', value: (p) => p.via || '' },
];

let root;
let peers = [];
let sortKey = 'email';
let sortDir = 1;
let selected = null;
let parts;

export function repoNames(p) {
  return (p.repositories || []).map((r) => r.name);
}

export function addresses(p) {
  if (!p.socket_addresses || p.socket_addresses.length === 0) return 'silent';
  return p.socket_addresses.map((a) => (a.includes(':') ? `[${a}]` : a) + (p.port ? `:${p.port}` : '')).join(' ');
}

export function mount(node) {
  root = node;
  const text = el('input', { id: 'peer-filter-text', type: 'search', placeholder: 'email, address, repository' });
  const repo = el('select', { id: 'peer-filter-repo' }, el('option', { value: '' }, 'any repository'));
  const state = el('select', { id: 'peer-filter-state' },
    ['', 'CONNECTED', 'DISCOVERED', 'STALE'].map((s) => el('option', { value: s }, s || 'any state')));
  for (const f of [text, repo, state]) f.addEventListener('input', render);
  parts = { text, repo, state, count: el('p', { class: 'note', id: 'peer-count', 'aria-live': 'polite' }),
    table: el('div', { id: 'peer-table' }), detail: el('div', { id: 'peer-detail' }) };
  fill(root,
    el('h1', { class: 'visually-hidden' }, 'Peers'),
    el('div', { class: 'filters', role: 'search', 'aria-label': 'Filter the peers' },
      el('label', null, 'Filter ', text),
      el('label', null, 'Repository ', repo),
      el('label', null, 'State ', state),
      parts.count),
    el('div', { class: 'peers-layout' }, parts.table, parts.detail));
}

function matches(p) {
  const t = parts.text.value.trim().toLowerCase();
  const r = parts.repo.value;
  const s = parts.state.value;
  if (r && !repoNames(p).includes(r)) return false;
  if (s && p.state !== s) return false;
  if (t && ![p.email, addresses(p), repoNames(p).join(' '), p.via || '', p.peer_id]
    .some((v) => v.toLowerCase().includes(t))) return false;
  return true;
}

function compare(a, b) {
  const col = COLUMNS.find((c) => c.key === sortKey);
  const x = col.value(a);
  const y = col.value(b);
  const d = col.num ? x - y : String(x).localeCompare(String(y));
  return d * sortDir || a.email.localeCompare(b.email);
}

function sortBy(key) {
  if (sortKey === key) sortDir = -sortDir;
  else {
    sortKey = key;
    sortDir = 1;
  }
  render();
  root.querySelector(`[data-focus="${CSS.escape(`sort:${key}`)}"]`).focus();
}

function select(email) {
  selected = selected === email ? null : email;
  render();
  // Keyboard users land where they were: on the details when opened, on the row when closed.
  const target = root.querySelector(`[data-focus="${CSS.escape(selected ? 'detail:title' : `row:${email}`)}"]`);
  if (target) target.focus();
}

function updateRepoChoices() {
  const names = [...new Set(peers.flatMap(repoNames))].sort();
  const have = [...parts.repo.options].slice(1).map((o) => o.value);
  if (names.join('\n') === have.join('\n')) return;
  const keep = parts.repo.value;
  fill(parts.repo, el('option', { value: '' }, 'any repository'), names.map((n) => el('option', { value: n }, n)));
  parts.repo.value = names.includes(keep) ? keep : '';
}

function cell(col, p) {
  switch (col.key) {
    case 'email':
      return el('button', {
        type: 'button', class: 'link', 'aria-expanded': String(selected === p.email), 'data-focus': `row:${p.email}`,
        'aria-controls': 'peer-detail', on: { click: () => select(p.email) },
      }, p.email);
    case 'peer_status': return badge(p.peer_status, tone(p.peer_status));
    case 'state': return badge(p.state, tone(p.state));
    case 'score': return String(p.score);
    case 'addresses': return addresses(p) === 'silent' ? el('span', { class: 'muted' }, 'silent') : el('code', null, addresses(p));
    case 'repositories': return repoNames(p).map((n) => el('span', { class: 'chip' }, n));
    case 'last_seen': return el('time', { dateTime: p.last_seen, title: when(p.last_seen) }, ago(p.last_seen));
    case 'via': return p.via || '-';
    default: return '';
  }
}

function detail(p, certOpen) {
  return el('article', { class: 'card detail', 'aria-label': `Peer ${p.email}` },
    el('div', { class: 'row spread' }, el('h2', { tabIndex: -1, 'data-focus': 'detail:title' }, p.email),
      el('button', { type: 'button', 'data-focus': 'detail:close', on: { click: () => select(p.email) } }, 'Close')),
    facts([
      ['Peer id', el('code', null, p.peer_id)],
      ['Status / state', [badge(p.peer_status, tone(p.peer_status)), ' ', badge(p.state, tone(p.state))]],
      ['Broadcasting', p.is_broadcasting ? 'yes' : 'no (silent)'],
      ['Bootstrap peer', p.is_bootstrap ? 'yes' : 'no'],
      ['Addresses', addresses(p)],
      ['Torrent port', p.torrent_port ? String(p.torrent_port) : '-'],
      ['Relay port', p.relay_port ? String(p.relay_port) : '-'],
      ['Via relay', p.via || '-'],
      ['Reachable via', (p.reachable_via || []).join(', ') || '-'],
      ['Score', `${p.score} (availability ${p.availability_score}, performance ${p.performance_score})`],
      ['Bandwidth estimate', String(p.bandwidth_estimate)],
      ['Repositories', (p.repositories || []).map((r) => el('div', null, el('span', { class: 'chip' }, r.name),
        r.description ? ` ${r.description}` : ''))],
      ['Torrents', (p.torrents || []).length === 0 ? '-' : p.torrents.map((t) => el('div', null,
        el('code', null, t.info_hash || String(t)), t.name ? ` ${t.name}` : ''))],
      ['Discovered', when(p.discovered_at)],
      ['Last seen', `${when(p.last_seen)} (${ago(p.last_seen)})`],
      ['Expires', when(p.expires_at)],
      ['Peers it knows', String(p.peer_count)],
      ['Gossip received', String(p.gossip_received_count)],
      ['Certificate', el('details', { open: certOpen }, el('summary', { 'data-focus': 'detail:cert' }, 'show'),
        el('pre', null, p.public_certificate))],
    ]));
}

function render() {
  if (!parts) return;
  const shown = peers.filter(matches).sort(compare);
  parts.count.textContent = `${shown.length} of ${peers.length} peers`;
  const head = el('tr', null, COLUMNS.map((c) => el('th', {
    scope: 'col', 'data-key': c.key,
    'aria-sort': c.key === sortKey ? (sortDir > 0 ? 'ascending' : 'descending') : 'none',
  }, el('button', { type: 'button', class: 'sort', 'data-focus': `sort:${c.key}`, on: { click: () => sortBy(c.key) } },
    c.title, el('span', { class: 'arrow', 'aria-hidden': 'true' },
      c.key === sortKey ? (sortDir > 0 ? ' \u25b2' : ' \u25bc') : '')))));
  const rows = shown.map((p) => el('tr', { class: selected === p.email ? 'selected' : null, 'data-email': p.email },
    COLUMNS.map((c) => el('td', { 'data-col': c.key, 'data-label': c.title }, cell(c, p)))));
  // Redrawing must not take the keyboard focus away: it goes back to the same control.
  const active = document.activeElement;
  const focusKey = active && root.contains(active) ? active.dataset.focus : undefined;
  fill(parts.table, el('div', { class: 'table-wrap' }, el('table', { class: 'peers', id: 'peers' },
    el('caption', { class: 'visually-hidden' }, 'Peers this agent knows; the column headers sort'),
    el('thead', null, head),
    el('tbody', null, rows.length > 0 ? rows
      : el('tr', null, el('td', { colSpan: COLUMNS.length, class: 'empty' },
        peers.length > 0 ? 'No peer matches the filter.' : 'No peers known yet.'))))));
  const p = peers.find((x) => x.email === selected);
  const cert = parts.detail.querySelector('details');
  fill(parts.detail, p ? detail(p, cert !== null && cert.open) : null);
  if (focusKey) {
    const again = root.querySelector(`[data-focus="${CSS.escape(focusKey)}"]`);
    if (again) again.focus();
  }
}

export async function refresh() {
  peers = await get('/api/v1/peers');
  updateRepoChoices();
  render();
}
