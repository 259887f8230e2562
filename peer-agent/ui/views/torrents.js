// views/torrents.js - the torrents the agent holds, with progress and rates;
// share a local file or folder, or download from a magnet link.
import { call, get } from '../api.js';
import { badge, bytes, el, fill, rate, tone } from '../dom.js';

let parts;

function field(id, label, props) {
  return [el('label', { for: id }, label), el('input', { id, type: 'text', spellcheck: false, ...props })];
}

function form(id, title, fields, submit, action) {
  const msg = el('p', { class: 'note', 'aria-live': 'polite', id: `${id}-msg` });
  const button = el('button', { type: 'submit', class: 'primary' }, submit);
  const f = el('form', { id, class: 'stack' }, fields, el('div', null, button), msg);
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    button.disabled = true;
    msg.textContent = 'Working...';
    try {
      msg.textContent = await action(f);
      f.reset();
    } catch (err) {
      msg.textContent = err.message;
    }
    button.disabled = false;
    refresh();
  });
  return el('article', { class: 'card' }, el('h2', null, title), f);
}

export function mount(node) {
  parts = { list: el('div', { id: 'torrent-list' }) };
  const value = (f, name) => f.querySelector(`#${name}`).value.trim();
  fill(node,
    el('h1', { class: 'visually-hidden' }, 'Torrents'),
    parts.list,
    el('div', { class: 'grid' },
      form('torrent-create', 'Share a file or folder',
        [field('create-path', 'Path on this machine', { required: true, placeholder: '/home/me/holiday.mov' }),
          field('create-name', 'Name (optional)', {})],
        'Create and seed', async (f) => {
          const body = { path: value(f, 'create-path') };
          if (value(f, 'create-name')) body.name = value(f, 'create-name');
          const t = await call('POST', '/api/v1/torrents', body);
          return `Seeding ${t.name || t.info_hash}.`;
        }),
      form('torrent-get', 'Download from a magnet link',
        [field('get-magnet', 'Magnet link', { required: true, placeholder: 'magnet:?xt=urn:btih:...' }),
          field('get-dest', 'Into the folder', { required: true, placeholder: '/home/me/Downloads' })],
        'Download', async (f) => {
          const t = await call('POST', '/api/v1/torrents', { magnet: value(f, 'get-magnet'), dest: value(f, 'get-dest') });
          return `Downloading ${t.name || t.info_hash}.`;
        })));
}

function progress(t) {
  const pct = Math.round(t.progress * 1000) / 10;
  return el('div', { class: 'progress-cell' },
    el('div', {
      class: `bar ${tone(t.state)}`, role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100',
      'aria-valuenow': String(pct), 'aria-label': `${t.name || t.info_hash} progress`,
    }, el('span', { class: 'fill', style: null, 'data-pct': String(pct) })),
    el('span', { class: 'pct' }, `${pct}%`));
}

export async function refresh() {
  const list = await get('/api/v1/torrents');
  // What the user opened or focused stays so across the redraw.
  const opened = new Set([...parts.list.querySelectorAll('tr[data-info-hash] details[open]')]
    .map((d) => d.closest('tr').dataset.infoHash));
  const active = document.activeElement;
  const focusRow = active && parts.list.contains(active) ? active.closest('tr[data-info-hash]') : null;
  const focusHash = focusRow ? focusRow.dataset.infoHash : null;
  const rows = list.map((t) => el('tr', { 'data-info-hash': t.info_hash },
    el('td', null, el('div', null, t.name || '(metadata not yet known)'),
      el('code', { class: 'muted small' }, t.info_hash)),
    el('td', null, badge(t.state, tone(t.state)), t.error ? el('div', { class: 'muted small' }, t.error) : null),
    el('td', null, progress(t)),
    el('td', { class: 'num' }, bytes(t.size)),
    el('td', { class: 'num' }, `\u2193 ${rate(t.download_rate)}`, el('br'), `\u2191 ${rate(t.upload_rate)}`),
    el('td', { class: 'num' }, String(t.peers)),
    el('td', null, el('details', { open: opened.has(t.info_hash) }, el('summary', null, 'magnet'),
      el('code', { class: 'wrap' }, t.magnet)),
      el('div', { class: 'muted small' }, t.path))));
  fill(parts.list, el('article', { class: 'card' }, el('h2', null, `Torrents (${list.length})`),
    el('div', { class: 'table-wrap' }, el('table', { id: 'torrents' },
      el('thead', null, el('tr', null, ['Name', 'State', 'Progress', 'Size', 'Rates', 'Peers', 'Where']
        .map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', null, rows.length > 0 ? rows
        : el('tr', null, el('td', { colSpan: 7, class: 'empty' }, 'No torrents yet.')))))));
  // The CSP allows no inline styles: a bar's width is set through the CSSOM.
  for (const f of parts.list.querySelectorAll('.fill')) f.style.width = `${f.dataset.pct}%`;
  if (focusHash) {
    const summary = parts.list.querySelector(`tr[data-info-hash="${CSS.escape(focusHash)}"] summary`);
    if (summary) summary.focus();
  }
}
