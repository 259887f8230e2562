// api.js - the agent's control API, same origin, with the Bearer token the
// user brought (kept in sessionStorage: gone when the tab closes).

const KEY = 'flashback.token';

export class AuthError extends Error {}

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(t) {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

// Takes "#token=..." out of the address: into sessionStorage, and out of the
// address bar and the history, so it is not bookmarked or shown.
export function takeTokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const t = params.get('token');
  if (t === null) return false;
  setToken(t);
  history.replaceState(null, '', location.pathname + location.search);
  return true;
}

export async function call(method, path, body) {
  const headers = { Authorization: `Bearer ${token() || ''}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (e) {
    throw new ApiError(0, 'The agent does not answer: is `peer-agent run` still up?', 'unreachable');
  }
  let doc = null;
  try {
    doc = await res.json();
  } catch (e) {
    doc = null;
  }
  if (res.status === 401) throw new AuthError('The agent refused this token.');
  if (!res.ok) {
    const msg = doc && typeof doc.error === 'string' ? doc.error : `HTTP ${res.status}`;
    throw new ApiError(res.status, msg, doc && doc.code);
  }
  return doc;
}

export const get = (path) => call('GET', path);
