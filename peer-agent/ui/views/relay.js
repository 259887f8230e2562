// views/relay.js - GET /api/v1/relay: the reservations this agent holds on
// relays and grants to silent peers, the circuits it runs and carries, and
// the relay's counters.
import { get } from '../api.js';
import { badge, bytes, el, facts, fill, table, when } from '../dom.js';

let parts;

export function mount(node) {
  parts = { body: el('div', { id: 'relay' }) };
  fill(node, el('h1', { class: 'visually-hidden' }, 'Relay'), parts.body);
}

const since = (x) => [x.pending ? badge('pending', 'warn') : null, x.pending ? ' ' : null, when(x.since)];

export async function refresh() {
  const r = await get('/api/v1/relay');
  const f = r.refused || {};
  fill(parts.body,
    el('div', { class: 'grid' },
      el('article', { class: 'card' }, el('h2', null, 'This agent as a relay'), facts([
        ['Serving', r.serving ? `yes, on port ${r.relay_port}` : 'no'],
        ['Reservations', `${r.reservations_granted} granted, ${r.reservations_renewed} renewed, ${r.reservations_refused} refused`],
        ['Circuits', `${r.circuits_opened} opened, ${r.circuits_closed} closed, ${r.join_timeouts} join timeouts`],
        ['Closed by limit', `${(r.closed || {}).byte_cap || 0} byte cap, ${(r.closed || {}).lifetime || 0} lifetime`],
        ['Bytes relayed', bytes(r.bytes_relayed)],
      ])),
      el('article', { class: 'card' }, el('h2', null, 'Our circuits'), facts([
        ['Dialed / accepted', `${r.circuits_dialed} / ${r.circuits_accepted}`],
        ['Failures', String(r.circuit_failures)],
        ['Bytes carried', bytes(r.bytes_carried)],
        ['Refused', Object.entries(f).filter(([, v]) => v > 0).map(([k, v]) => `${k.replaceAll('_', ' ')} ${v}`).join(', ') || 'none'],
      ]))),
    el('article', { class: 'card' }, el('h2', null, `Reservations held (${r.reservations_held.length})`),
      table(['Relay', 'Since', 'Until'], r.reservations_held.map((h) => [h.relay, since(h), when(h.expires_at)]),
        { empty: 'None: this agent is reachable directly, or no relay is known.' })),
    el('article', { class: 'card' }, el('h2', null, `Reservations served (${r.reservations_served.length})`),
      table(['Peer', 'Since', 'Until'], r.reservations_served.map((s) => [s.peer, when(s.since), when(s.expires_at)]))),
    el('article', { class: 'card' }, el('h2', null, `Circuits (${r.circuits.length})`),
      table(['Peer', 'Direction', 'Via', 'Service', 'Bytes', 'Since'], r.circuits.map((c) => [
        c.peer, c.inbound ? 'in' : 'out', c.relay, c.service, bytes(c.bytes), since(c)]))),
    el('article', { class: 'card' }, el('h2', null, `Circuits served (${r.circuits_served.length})`),
      table(['From', 'To', 'Service', 'Bytes', 'Since'], r.circuits_served.map((c) => [
        c.peer, c.target, c.service, bytes(c.bytes), since(c)]))));
}
