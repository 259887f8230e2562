// dom.js - building the page from data. Every string that came from the
// network goes in as a text node (textContent, createTextNode), never as
// HTML: a repository named "<script>" is shown as those characters.

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(node, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child) append(node, c);
  } else if (child instanceof Node) {
    node.appendChild(child);
  } else {
    node.appendChild(document.createTextNode(String(child)));
  }
}

function setProps(node, props) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined) continue;
    if (k === 'class') node.setAttribute('class', v);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
    // HTML properties (value, hidden, colSpan...) as such; the rest, and all of SVG, as attributes.
    else if (!(node instanceof SVGElement) && k in node && !k.includes('-') && typeof node[k] !== 'function') node[k] = v;
    else if (v !== false) node.setAttribute(k, v === true ? '' : String(v));
  }
}

// el('td', {class: 'num'}, 'text', otherNode, ...): an element with text children.
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  setProps(node, props);
  append(node, children);
  return node;
}

// The same for SVG drawings.
export function svg(tag, props, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setProps(node, props);
  append(node, children);
  return node;
}

// Replaces node's children.
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function parseTime(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

// "12 s ago", "3 min ago", or the time itself when long ago.
export function ago(iso, now = Date.now()) {
  const t = parseTime(iso);
  if (t === null) return '-';
  const s = Math.round((now - t) / 1000);
  if (s < 0) return 'in ' + duration(-s);
  if (s < 2) return 'just now';
  if (s < 24 * 3600) return duration(s) + ' ago';
  return new Date(t).toLocaleString();
}

export function duration(s) {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function when(iso) {
  const t = parseTime(iso);
  return t === null ? '-' : new Date(t).toLocaleString();
}

export function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = Number(n) || 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function rate(n) {
  return `${bytes(n)}/s`;
}

// A table with a header row; rows are arrays of cells (strings or nodes).
export function table(headers, rows, opts = {}) {
  return el('div', { class: 'table-wrap' },
    el('table', { class: opts.class || null },
      opts.caption ? el('caption', { class: 'visually-hidden' }, opts.caption) : null,
      el('thead', null, el('tr', null, headers.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', null, rows.length === 0
        ? el('tr', null, el('td', { class: 'empty', colSpan: headers.length }, opts.empty || 'none'))
        : rows.map((r) => el('tr', null, r.map((c) => el('td', null, c)))))));
}

// A definition list of [term, value] pairs.
export function facts(pairs) {
  return el('dl', { class: 'facts' }, pairs.map(([k, v]) => [el('dt', null, k), el('dd', null, v)]));
}

export function badge(text, kind) {
  return el('span', { class: `badge ${kind || ''}` }, text);
}

// The colour a state or status gets.
export function tone(s) {
  switch (String(s).toLowerCase()) {
    case 'connected': case 'online': case 'registered': case 'seeding': case 'on': return 'good';
    case 'stale': case 'registering': case 'checking': case 'downloading': case 'pending': return 'warn';
    case 'offline': case 'error': case 'unregistered': return 'bad';
    default: return 'plain';
  }
}
