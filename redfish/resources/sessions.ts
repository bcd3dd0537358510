// SessionService sessions: `POST {UserName, Password}` to the collection; the token comes back in
// `X-Auth-Token`, the session's URI in `Location` (some BMCs omit it; the body's @odata.id is the
// fallback). DELETE on that URI logs out; sessions are scarce on BMCs (iDRAC RAC0218), so the
// client always deletes its own.

import { isRecord, text } from '../json.js';
import type { RawResponse } from '../transport.js';

export interface SessionCredentials {
  token: string;
  /** Where to DELETE to log out; undefined when the BMC gave neither Location nor @odata.id. */
  location?: string;
}

export function sessionLoginBody(username: string, password: string): Record<string, string> {
  return { UserName: username, Password: password };
}

/** Token and location from a successful session POST, or undefined when no token came back. */
export function parseSessionResponse(res: RawResponse): SessionCredentials | undefined {
  const token = res.headers['x-auth-token'];
  if (token === undefined || token.trim() === '') return undefined;
  const out: SessionCredentials = { token: token.trim() };
  const location = res.headers['location'] ?? (isRecord(res.body) ? text(res.body['@odata.id']) : undefined);
  if (location !== undefined && location.trim() !== '') out.location = location.trim();
  return out;
}

/** Statuses meaning "this BMC has no session service": fall back to HTTP Basic. */
export function sessionsUnsupported(status: number): boolean {
  return status === 404 || status === 405 || status === 501;
}
