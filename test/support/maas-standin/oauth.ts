// OAuth 1.0a checks as MAAS 3.6 makes them (src/maasserver/api/auth.py MAASAPIAuthentication over
// piston's OAuthServer.verify_request, RealGeeks/django-piston3 piston/oauth.py): header parsed by
// _split_header (items containing "realm" skipped, values unquoted), then version, consumer, token,
// timestamp (older than 300 s refused), nonce (never twice per consumer+token, stored before the
// signature is checked), signature method, signature. Errors are MAAS's plain-text bodies:
// 401 "Authorization Error: Invalid API key." for an unknown consumer, otherwise
// "Authorization Error: <repr of piston's message>"; 400 "Bad Request: ..." for a missing parameter.
//
// Divergence: piston also accepts HMAC-SHA1; the stand-in knows only PLAINTEXT (all MAAS clients use it).

import type { StandinState, StandinToken, StandinUser } from './state.js';

export const TIMESTAMP_THRESHOLD_S = 300;

export type AuthOutcome =
  | { kind: 'anonymous' }
  | { kind: 'ok'; user: StandinUser; token: StandinToken; params: Record<string, string> }
  | { kind: 'error'; status: 400 | 401; body: string; params: Record<string, string> | null };

/** Python repr() of a str, which is how MAAS quotes piston's messages. */
export function pyRepr(s: string): string {
  if (s.includes("'") && !s.includes('"')) return `"${s}"`;
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function pyQuote(s: string): string {
  // urllib.quote(s, safe='~')
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** piston OAuthRequest._split_header. Returns null when an item has no '=' (piston: "Unable to parse..."). */
export function splitHeader(header: string): Record<string, string> | null {
  const params: Record<string, string> = {};
  for (const part of header.split(',')) {
    if (part.includes('realm')) continue;
    const p = part.trim();
    const eq = p.indexOf('=');
    if (eq < 0) return null;
    const k = p.slice(0, eq);
    const v = p.slice(eq + 1).replace(/^"+|"+$/g, '');
    try {
      params[k] = decodeURIComponent(v);
    } catch {
      params[k] = v;
    }
  }
  return params;
}

const REQUIRED = ['oauth_consumer_key', 'oauth_token', 'oauth_signature_method', 'oauth_signature', 'oauth_timestamp', 'oauth_nonce'];

export function authenticate(authorization: string | undefined, state: StandinState): AuthOutcome {
  if (authorization === undefined || !authorization.startsWith('OAuth ')) return { kind: 'anonymous' };
  const params = splitHeader(authorization.slice(6));
  const unauthorized = (msg: string, p: Record<string, string> | null = params): AuthOutcome => ({
    kind: 'error',
    status: 401,
    body: `Authorization Error: ${pyRepr(msg)}`,
    params: p,
  });
  if (params === null) return unauthorized('Unable to parse OAuth parameters from Authorization header.', null);
  for (const k of REQUIRED) {
    if (!(k in params)) return { kind: 'error', status: 400, body: `Bad Request: Parameter not found: ${k}`, params };
  }
  const version = params['oauth_version'];
  if (version !== undefined && version !== '1.0') return unauthorized(`OAuth version ${version} not supported.`);
  const consumerKey = params['oauth_consumer_key']!;
  const tokenKey = params['oauth_token']!;
  if (!state.tokens.some((t) => t.consumerKey === consumerKey)) {
    return { kind: 'error', status: 401, body: 'Authorization Error: Invalid API key.', params };
  }
  const token = state.tokens.find((t) => t.consumerKey === consumerKey && t.tokenKey === tokenKey);
  if (token === undefined) return unauthorized(`Invalid access token: ${tokenKey}`);
  const tsText = params['oauth_timestamp']!;
  if (!/^-?\d+$/.test(tsText.trim())) return { kind: 'error', status: 400, body: `Bad Request: Invalid timestamp: ${tsText}`, params };
  const ts = Number(tsText);
  const now = Math.floor(state.clock.now() / 1000);
  if (now - ts > TIMESTAMP_THRESHOLD_S) {
    return unauthorized(`Expired timestamp: given ${ts} and now ${now} has a greater difference than threshold ${TIMESTAMP_THRESHOLD_S}`);
  }
  const nonce = params['oauth_nonce']!;
  const nonceKey = `${consumerKey}:${tokenKey}:${nonce}`;
  if (state.nonces.has(nonceKey)) return unauthorized(`Nonce already used: ${nonce}`);
  state.nonces.add(nonceKey);
  const method = params['oauth_signature_method']!;
  if (method !== 'PLAINTEXT') return unauthorized(`Signature method ${method} not supported try one of the following: PLAINTEXT`);
  const expected = `${pyQuote('')}&${pyQuote(token.tokenSecret)}`;
  if (params['oauth_signature'] !== expected) return unauthorized(`Invalid signature. Expected signature base string: ${expected}`);
  const user = state.users.get(token.username);
  if (user === undefined) return unauthorized(`Invalid access token: ${tokenKey}`);
  return { kind: 'ok', user, token, params };
}
