import { randomBytes } from 'node:crypto';

export const SESSION_COOKIE = 'rackboot_session';

interface Session {
  /** SHA-256 of the API token it was opened with: the token is checked again on every request, so revoking it ends the session. */
  secretSha256: string;
  expiresAt: number;
}

/**
 * Browser sessions for the dashboard. EventSource cannot send an Authorization header, so the
 * operator's API token is exchanged once for a random session id carried in an HttpOnly cookie. Kept
 * in memory: a restart signs browsers out, and neither the token nor the id is ever written anywhere.
 */
export class BrowserSessions {
  private readonly byId = new Map<string, Session>();

  constructor(
    readonly ttlMs = 12 * 3600_000,
    private readonly max = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  open(secretSha256: string): string {
    this.sweep();
    // Oldest first out: a flood of sign-ins cannot grow the table without bound.
    while (this.byId.size >= this.max) this.byId.delete(this.byId.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    this.byId.set(id, { secretSha256, expiresAt: this.now() + this.ttlMs });
    return id;
  }

  /** The token hash behind a live session id, or null. */
  lookup(id: string): string | null {
    const s = this.byId.get(id);
    if (s === undefined) return null;
    if (s.expiresAt <= this.now()) {
      this.byId.delete(id);
      return null;
    }
    return s.secretSha256;
  }

  close(id: string): void {
    this.byId.delete(id);
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, s] of this.byId) if (s.expiresAt <= now) this.byId.delete(id);
  }
}

/** The value of one cookie from a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
