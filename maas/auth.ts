// MAAS API keys and OAuth 1.0a PLAINTEXT signing (0-legged; the consumer secret is always empty).
// MAAS checks the nonce (never reused per consumer/token) and the timestamp (at most 300 s old), so a
// header is built fresh for every request and every retry; nothing here caches one.

import { randomBytes } from 'node:crypto';
import { fail, ok, type MaasResult } from './errors.js';

export interface MaasApiKey {
  consumerKey: string;
  tokenKey: string;
  tokenSecret: string;
}

const KEY_PART = /^[A-Za-z0-9._~-]+$/;

/**
 * Parses `consumer_key:token_key:token_secret` (typically 18:18:32 alphanumerics, as printed by
 * `maas apikey` or the UI). Surrounding whitespace is ignored; the secret itself is never echoed back.
 */
export function parseApiKey(raw: string): MaasResult<MaasApiKey> {
  const bad = (why: string): MaasResult<MaasApiKey> =>
    fail({ code: 'RB_MAAS_BAD_KEY', message: `MAAS API key must be 'consumer_key:token_key:token_secret': ${why}` });
  if (typeof raw !== 'string') return bad('not a string');
  const key = raw.trim();
  if (key === '') return bad('the key is empty');
  const parts = key.split(':');
  if (parts.length !== 3) return bad(`found ${parts.length} part${parts.length === 1 ? '' : 's'} separated by ':', expected 3`);
  const [consumerKey, tokenKey, tokenSecret] = parts as [string, string, string];
  const names = ['consumer key', 'token key', 'token secret'];
  for (const [i, p] of [consumerKey, tokenKey, tokenSecret].entries()) {
    if (p === '') return bad(`the ${names[i]} is empty`);
    if (!KEY_PART.test(p)) return bad(`the ${names[i]} contains characters MAAS never issues`);
  }
  return ok({ consumerKey, tokenKey, tokenSecret });
}

/** RFC 3986 percent-encoding (unreserved characters kept), as OAuth 1.0a requires for header values. */
export function oauthEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

export interface SignOptions {
  /** Milliseconds since the epoch; defaults to Date.now(). Injectable for tests. */
  now?: number;
  /** Defaults to 16 random bytes in hex. */
  nonce?: string;
}

export interface OAuthParams {
  oauth_consumer_key: string;
  oauth_token: string;
  oauth_signature_method: 'PLAINTEXT';
  oauth_signature: string;
  oauth_timestamp: string;
  oauth_nonce: string;
  oauth_version: '1.0';
}

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

/** The OAuth parameters of one request: PLAINTEXT signature = escape('') + '&' + escape(token_secret). */
export function oauthParams(key: MaasApiKey, opts: SignOptions = {}): OAuthParams {
  const now = opts.now ?? Date.now();
  return {
    oauth_consumer_key: key.consumerKey,
    oauth_token: key.tokenKey,
    oauth_signature_method: 'PLAINTEXT',
    oauth_signature: '&' + oauthEscape(key.tokenSecret),
    oauth_timestamp: String(Math.floor(now / 1000)),
    oauth_nonce: opts.nonce ?? newNonce(),
    oauth_version: '1.0',
  };
}

/** `Authorization: OAuth realm="", oauth_version="1.0", ...` with every value percent-encoded. */
export function authorizationHeader(key: MaasApiKey, opts: SignOptions = {}): string {
  const p = oauthParams(key, opts);
  const order: (keyof OAuthParams)[] = [
    'oauth_version',
    'oauth_signature_method',
    'oauth_consumer_key',
    'oauth_token',
    'oauth_signature',
    'oauth_nonce',
    'oauth_timestamp',
  ];
  return 'OAuth realm="", ' + order.map((k) => `${k}="${oauthEscape(p[k])}"`).join(', ');
}
