// Talks to rackboot's /api/v1 with the session cookie set by POST /api/v1/session.

export class ApiError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * @param {string} path
 * @param {{ method?: string, body?: unknown }} [opts]
 */
export async function api(path, opts = {}) {
  const headers = { accept: 'application/json', 'x-rackboot-csrf': '1' };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(path, {
    method: opts.method ?? 'GET',
    credentials: 'same-origin',
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  if (r.status === 204) return null;
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, (body && (body.detail || body.title)) || r.statusText);
  return body;
}

/** The token goes out once, in the Authorization header; the answer sets the HttpOnly session cookie. */
export async function login(token) {
  const r = await fetch('/api/v1/session', { method: 'POST', credentials: 'same-origin', headers: { accept: 'application/json', authorization: `Bearer ${token}` } });
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, (body && (body.detail || body.title)) || r.statusText);
  return body;
}
export const logout = () => api('/api/v1/session', { method: 'DELETE' });
export const whoami = () => api('/api/v1/session');

/** Every item of a paginated list, following its pages. */
async function allPages(path) {
  const items = [];
  for (let offset = 0; ; ) {
    const page = await api(`${path}?limit=1000&offset=${offset}`);
    items.push(...page.items);
    offset += page.items.length;
    if (page.items.length === 0 || offset >= page.total) return items;
  }
}

export const allMachines = () => allPages('/api/v1/machines');
export const allClusters = () => allPages('/api/v1/clusters');

/**
 * Follows the server-sent event stream. The browser reconnects by itself and sends Last-Event-ID,
 * so nothing is missed across a dropped connection; `onStatus` reports 'live', 'reconnecting' or 'closed'.
 * @param {(kind: string, data: any) => void} onEvent
 * @param {(status: string) => void} onStatus
 */
export function follow(onEvent, onStatus) {
  const es = new EventSource('/api/v1/events/stream?progress=true', { withCredentials: true });
  es.onopen = () => onStatus('live');
  es.onerror = () => onStatus(es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
  const deliver = (kind) => (/** @type {MessageEvent} */ m) => {
    let data;
    try {
      data = JSON.parse(m.data);
    } catch {
      return;
    }
    onEvent(kind, data);
  };
  // rackboot names its messages `timeline` (one machine timeline event each); plain messages are taken too.
  es.onmessage = deliver('message');
  es.addEventListener('timeline', deliver('timeline'));
  // Live progress of long steps (downloads, uploads): not resumable, a snapshot comes on connect.
  es.addEventListener('progress', deliver('progress'));
  return () => es.close();
}
