// views/discovery.js - who hosts a repository: the agent asks its table, then
// its neighbours by gossip, then the bootstrap servers; each answer says
// where it came from and how long it took.
import { get } from '../api.js';
import { badge, el, fill, table, tone } from '../dom.js';
import { addresses, repoNames } from './peers.js';

const HISTORY = 10;
let parts;
const runs = [];

export function mount(node) {
  const input = el('input', {
    id: 'discover-repos', type: 'text', required: true, spellcheck: false,
    placeholder: 'photos, music', 'aria-describedby': 'discover-help',
  });
  const button = el('button', { type: 'submit', class: 'primary', id: 'discover-go' }, 'Discover');
  const form = el('form', { class: 'row', id: 'discover-form' },
    el('label', { for: 'discover-repos' }, 'Repositories'), input, button);
  parts = { input, button, status: el('p', { class: 'note', id: 'discover-status', 'aria-live': 'polite' }),
    results: el('div', { id: 'discover-results' }) };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    discover();
  });
  fill(node,
    el('h1', { class: 'visually-hidden' }, 'Discovery'),
    el('article', { class: 'card' },
      el('h2', null, 'Find peers hosting repositories'),
      form,
      el('p', { class: 'note', id: 'discover-help' },
        'Asks the peer table first, then neighbours by gossip, then the bootstrap servers. ' +
        'Silent peers are found too, without their addresses.'),
      parts.status),
    parts.results);
}

async function discover() {
  const names = parts.input.value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) return;
  parts.button.disabled = true;
  parts.status.textContent = `Asking for ${names.join(', ')}...`;
  const started = performance.now();
  try {
    const found = await get(`/api/v1/discover?repositories=${encodeURIComponent(names.join(','))}`);
    const ms = Math.round(performance.now() - started);
    runs.unshift({ names, found, ms, at: new Date() });
    runs.length = Math.min(runs.length, HISTORY);
    parts.status.textContent = `${found.length} peer${found.length === 1 ? '' : 's'} found in ${ms} ms.`;
  } catch (e) {
    parts.status.textContent = e.message;
  }
  parts.button.disabled = false;
  render();
}

function render() {
  fill(parts.results, runs.map((r, i) => el('article', { class: 'card', 'data-run': String(i) },
    el('h2', null, `${r.names.join(', ')} `,
      el('span', { class: 'muted' }, `- ${r.found.length} found in ${r.ms} ms, at ${r.at.toLocaleTimeString()}`)),
    table(['Email', 'Source', 'Found in', 'State', 'Score', 'Addresses', 'Repositories'],
      r.found.map((p) => [
        p.email,
        badge(p.source || '-', 'plain'),
        p.found_in_ms !== undefined ? `${p.found_in_ms} ms` : '-',
        badge(p.state, tone(p.state)),
        String(p.score),
        addresses(p),
        repoNames(p).map((n) => el('span', { class: 'chip' }, n)),
      ]), { class: 'results', empty: 'Nobody hosts these repositories, as far as the network knows.' }))));
}

export async function refresh() {
  // Results stay as they were: a discovery asks the network, it is not repeated on a timer.
}
