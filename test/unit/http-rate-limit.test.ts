import { afterEach, describe, expect, it } from 'vitest';
import { RateLimiter } from '../../server/http/rate-limiter.js';
import { buildHttpFixture, type HttpFixture } from '../support/http-fixture.js';

describe('RateLimiter', () => {
  it('allows a burst, then the sustained rate, per key, and says when to retry', () => {
    let now = 1_000_000;
    const l = new RateLimiter({ perMinute: 60, burst: 3 }, () => now);
    expect([1, 2, 3].map(() => l.take('a').ok)).toEqual([true, true, true]);
    expect(l.take('a')).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(l.take('b').ok).toBe(true);
    now += 500;
    expect(l.take('a').ok).toBe(false);
    now += 600;
    expect(l.take('a').ok).toBe(true);
    expect(l.take('a').ok).toBe(false);
    now += 60_000;
    expect([1, 2, 3, 4].map(() => l.take('a').ok)).toEqual([true, true, true, false]);
  });

  it('reports the wait for slow rates and does nothing when off', () => {
    let now = 0;
    const slow = new RateLimiter({ perMinute: 2, burst: 1 }, () => now);
    expect(slow.take('k').ok).toBe(true);
    expect(slow.take('k')).toEqual({ ok: false, retryAfterSeconds: 30 });
    now += 30_000;
    expect(slow.take('k').ok).toBe(true);
    const off = new RateLimiter({ perMinute: 0, burst: 1 });
    expect(Array.from({ length: 1000 }, () => off.take('k').ok).every(Boolean)).toBe(true);
  });
});

describe('API rate limiting', () => {
  let f: HttpFixture;
  afterEach(async () => {
    await f.cleanup();
  });

  it('answers 429 problem+json with Retry-After per token, per address without one, and never on boot paths', async () => {
    f = await buildHttpFixture({ api: { rateLimit: { perMinute: 1, burst: 3 } } });
    const m = await f.addMachine({ name: 'm1', macs: ['52:54:00:00:00:01'] });
    const get = (headers: Record<string, string> = {}) => f.app.inject({ url: '/api/v1/machines', headers });
    for (let i = 0; i < 3; i++) expect((await get(f.auth('viewer'))).statusCode).toBe(200);
    const limited = await get(f.auth('viewer'));
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(limited.headers['retry-after']).toBe('60');
    expect(limited.json()).toMatchObject({ status: 429, code: 'RB_RATE_LIMITED', type: 'https://rackboot.dev/problems/rate-limited' });
    expect((limited.json() as { detail: string }).detail).toContain("token 'test-viewer'");
    // Another token has its own budget.
    expect((await get(f.auth('admin'))).statusCode).toBe(200);
    // Without a valid token the address is limited, so guessing tokens is slowed down too.
    expect([await get(), await get({ authorization: 'Bearer rbt_guess1' }), await get({ authorization: 'Bearer rbt_guess2' })].map((r) => r.statusCode)).toEqual([401, 401, 401]);
    const guess = await get({ authorization: 'Bearer rbt_guess3' });
    expect(guess.statusCode).toBe(429);
    expect((guess.json() as { detail: string }).detail).toContain('address 127.0.0.1');
    // Firmware is never throttled.
    for (let i = 0; i < 10; i++) expect((await f.app.inject({ url: f.bootPath(m, '/ipxe/ipxe.efi') })).statusCode).toBe(200);
    expect((await f.app.inject({ url: '/healthz' })).statusCode).toBe(200);
  });
});
