// views/status.js - who this agent is, broadcasting on or off, the bootstrap
// registration, the gossip counters, and a drawing of its sessions.
import { call, get } from '../api.js';
import { ago, badge, bytes, el, facts, fill, svg, tone, when } from '../dom.js';

let root;
let refreshAll;
let parts;

export function mount(node, app) {
  root = node;
  refreshAll = app.refresh;
  const repos = el('input', {
    id: 'broadcast-repos', type: 'text', placeholder: 'none',
    spellcheck: false, 'aria-describedby': 'broadcast-repos-help',
  });
  const toggle = el('button', {
    id: 'broadcast-toggle', type: 'button', class: 'switch', role: 'switch',
    'aria-checked': 'false', 'aria-labelledby': 'broadcast-label',
  }, el('span', { class: 'knob', 'aria-hidden': 'true' }));
  const msg = el('p', { class: 'note', id: 'broadcast-msg', 'aria-live': 'polite' });
  toggle.addEventListener('click', () => setBroadcast(toggle.getAttribute('aria-checked') !== 'true', repos, msg));
  // The field follows the agent's repositories until the user edits it.
  repos.addEventListener('input', () => { repos.dataset.edited = 'yes'; });
  parts = {
    repos,
    identity: el('div'),
    bootstrap: el('div'),
    gossip: el('div'),
    limits: el('div'),
    drawing: el('div', { class: 'drawing' }),
    toggle,
    toggleText: el('span', { id: 'broadcast-state' }),
  };
  fill(root,
    el('h1', { class: 'visually-hidden' }, 'Status'),
    el('div', { class: 'grid' },
      el('article', { class: 'card' }, el('h2', null, 'Agent'), parts.identity),
      el('article', { class: 'card' },
        el('h2', { id: 'broadcast-label' }, 'Broadcasting'),
        el('div', { class: 'row' }, toggle, parts.toggleText),
        el('label', { for: 'broadcast-repos' }, 'Repositories (comma-separated)'),
        repos,
        el('p', { class: 'note', id: 'broadcast-repos-help' },
          'What the agent hosts, announced with its record; applied when broadcasting is turned on. ' +
          'Broadcasting publishes this machine\'s addresses to peers and bootstrap servers; ' +
          'silent, the agent dials out only and its addresses never leave the machine.'),
        msg),
      el('article', { class: 'card' }, el('h2', null, 'Bootstrap'), parts.bootstrap),
      el('article', { class: 'card' }, el('h2', null, 'Sessions'), parts.drawing),
      el('article', { class: 'card span2' }, el('h2', null, 'Gossip'), parts.gossip),
      el('article', { class: 'card wide' }, el('h2', null, 'Limits that bit'), parts.limits)));
}

async function setBroadcast(on, input, msg) {
  const names = input.value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  parts.toggle.disabled = true;
  try {
    if (on) {
      await call('POST', '/api/v1/broadcast', names.length > 0
        ? { repositories: names.map((name) => ({ name })) } : {});
    } else {
      await call('DELETE', '/api/v1/broadcast');
    }
    msg.textContent = on ? 'Broadcasting: peers learn our addresses.' : 'Silent: our addresses are withdrawn.';
  } catch (e) {
    msg.textContent = e.message;
  }
  parts.toggle.disabled = false;
  delete input.dataset.edited;
  refreshAll();
}

function counters(obj) {
  return Object.entries(obj || {}).map(([k, v]) => [k.replaceAll('_', ' '), String(v)]);
}

// This agent in the middle, its peers around it; a line for each session.
function drawing(me, list) {
  const w = 320;
  const h = 220;
  const cx = w / 2;
  const cy = h / 2;
  const r = 80;
  const shown = list.slice(0, 16);
  const nodes = shown.map((p, i) => {
    // Two peers side by side rather than above and below: the card is wider than tall.
    const a = (2 * Math.PI * i) / Math.max(shown.length, 1) - Math.PI / 2 + (shown.length > 1 ? Math.PI / shown.length : Math.PI / 2);
    return { p, x: cx + r * Math.cos(a), y: cy + r * Math.sin(a) };
  });
  const label = (x, y, text, cls) => svg('text', { x, y, class: cls, 'text-anchor': 'middle' }, text);
  return svg('svg', {
    viewBox: `0 0 ${w} ${h}`, role: 'img', class: 'graph',
    'aria-label': `${me} and the ${list.filter((p) => p.state === 'CONNECTED').length} peers it has sessions with`,
  },
  nodes.map((n) => svg('line', {
    x1: cx, y1: cy, x2: n.x, y2: n.y,
    class: n.p.state === 'CONNECTED' ? (n.p.via ? 'edge relayed' : 'edge') : 'edge none',
  })),
  nodes.map((n) => svg('g', null,
    svg('title', null, `${n.p.email}: ${n.p.state}${n.p.via ? ' via ' + n.p.via : ''}`),
    svg('circle', { cx: n.x, cy: n.y, r: 7, class: `node ${tone(n.p.state)}` }),
    label(n.x, n.y + (n.y >= cy ? 20 : -12), n.p.email.split('@')[0], 'node-label'))),
  svg('circle', { cx, cy, r: 10, class: 'node me' }),
  label(cx, cy + 24, me.split('@')[0], 'node-label me-label'));
}

export async function refresh(st) {
  const list = await get('/api/v1/peers');
  const names = (st.repositories || []).map((r) => r.name);
  const g = st.gossip;
  fill(parts.identity, facts([
    ['Email', st.email],
    ['Peer id', el('code', null, st.peer_id)],
    ['Version', st.version],
    ['Gossip port', st.listen_port > 0 ? String(st.listen_port) : 'none (silent)'],
    ['Repositories', names.length > 0 ? names.map((n) => el('span', { class: 'chip' }, n)) : 'none'],
    ['Neighbours', String(st.neighbours)],
    ['Known peers', String(st.known_peers)],
  ]));
  if (!parts.repos.dataset.edited && document.activeElement !== parts.repos) parts.repos.value = names.join(', ');
  parts.toggle.setAttribute('aria-checked', String(st.broadcasting));
  parts.toggleText.textContent = st.broadcasting ? 'on' : 'off (silent)';
  fill(parts.bootstrap, facts([
    ['State', badge(st.bootstrap.state, tone(st.bootstrap.state))],
    ['Server', st.bootstrap.url || 'none has answered yet'],
    ['Registration expires', st.bootstrap.expires_at ? `${when(st.bootstrap.expires_at)} (${ago(st.bootstrap.expires_at)})` : '-'],
    ['Bootstrap peer', st.is_bootstrap ? 'yes' : 'no'],
  ]));
  fill(parts.drawing, drawing(st.email, list), el('p', { class: 'note' },
    'Solid: a direct session; dashed: through a relay; faint: known, no session.'));
  fill(parts.gossip, el('div', { class: 'split' },
    facts([
      ['Sessions open', String(g.sessions_open)],
      ['Frames received', String(g.received)],
      ['Records applied', String(g.records_applied)],
      ['Forwarded', String(g.forwarded)],
      ['Sent', String(g.sent)],
      ['Requests answered', String(g.requests_answered)],
      ['Anti-entropy rounds', String(g.anti_entropy_rounds)],
      ['Addresses stripped', String(g.stripped_addresses)],
      ['Handshake failures', String(g.handshake_failures)],
      ['Pin failures', String(g.pin_failures)],
      ['Bytes in / out', `${bytes(g.bytes_in)} / ${bytes(g.bytes_out)}`],
    ]),
    el('div', null, el('h3', null, 'Frame verdicts'), facts(counters(g.verdicts)),
      Object.keys(g.closed_by_code || {}).length > 0
        ? [el('h3', null, 'Sessions closed, by code'), facts(counters(g.closed_by_code))] : null)));
  const bit = counters(g.limits).filter(([, v]) => v !== '0');
  fill(parts.limits, bit.length > 0 ? facts(bit) : el('p', { class: 'note' }, 'None so far.'));
}
