// Pieces shared by the resource parsers: the ETag of a response and the Status object.

import { get, isRecord, text } from '../json.js';

export interface ResourceStatus {
  state?: string;
  health?: string;
}

export function parseStatus(v: unknown): ResourceStatus {
  const out: ResourceStatus = {};
  const state = text(get(v, 'State'));
  if (state !== undefined) out.state = state;
  const health = text(get(v, 'Health'));
  if (health !== undefined) out.health = health;
  return out;
}

/**
 * The ETag to send back in If-Match: the ETag header, else the body's `@odata.etag`. Empty ETags
 * (`""`, `W/""`) count as none (sushy ignores them; gofish's HPE sample carries `W/""`), and a
 * `-gzip` suffix added by a compressing front end is removed (gofish sanitizeETag).
 */
export function sanitizeEtag(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  let e = v.trim();
  if (e === '') return undefined;
  e = e.replace(/-gzip"$/, '"');
  if (e === '""' || e === 'W/""') return undefined;
  return e;
}

export function etagOf(headers: Record<string, string>, body: unknown): string | undefined {
  const fromHeader = sanitizeEtag(headers['etag']);
  if (fromHeader !== undefined) return fromHeader;
  return isRecord(body) ? sanitizeEtag(typeof body['@odata.etag'] === 'string' ? body['@odata.etag'] : undefined) : undefined;
}

/** `W/"abc"` → `"abc"`; anything else unchanged (sushy's weak-to-strong retry). */
export function strongEtag(e: string): string {
  return e.startsWith('W/') ? e.slice(2) : e;
}
