import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  allocateMachine,
  deployMachine,
  listMachines,
  mapHttpError,
  parseRetryAfter,
  queryPowerState,
  readMachine,
  statusFromConflictText,
  type MaasLogger,
} from '../../maas/index.js';
import { createMaasStandin, S, type CapturedRequest, type MaasStandin } from '../support/maas-standin/index.js';
import { clientFor, errorFixture } from '../support/maas-standin/testkit.js';

let s: MaasStandin;
beforeAll(async () => {
  s = await createMaasStandin();
});
afterAll(async () => {
  await s.stop();
});
afterEach(() => {
  s.faults.clear();
});

/** Requests the stand-in received since `from`, for one op. */
function since(from: number, op?: string): CapturedRequest[] {
  return s.requests.slice(from).filter((r) => op === undefined || r.op === op);
}

const nonceOf = (r: CapturedRequest): string | undefined => r.oauth?.['oauth_nonce'];

describe('retries', () => {
  it('retries a 503 with Retry-After after the advertised delay, re-signing the retry', async () => {
    const m = s.addMachine();
    const { client, sleeps } = clientFor(s);
    s.faults.serviceUnavailable(1, { op: 'deploy' });
    const from = s.requests.length;
    const r = await deployMachine(client, m.system_id, { distro_series: 'noble' });
    expect(r.ok && r.value.status_name).toBe('Deploying');
    expect(sleeps).toEqual([10_000]);
    const attempts = since(from, 'deploy');
    expect(attempts.map((a) => [a.status, a.fault === true])).toEqual([
      [503, true],
      [200, false],
    ]);
    expect(new Set(attempts.map(nonceOf)).size).toBe(2);
    expect(attempts[1]!.authorization).not.toBe(attempts[0]!.authorization);
    client.close();
  });

  it("retries MAAS's retryable 409 (Retry-After: 5) with a fresh nonce and timestamp each time", async () => {
    const m = s.addMachine();
    let t = Date.now();
    const { client, sleeps } = clientFor(s, {
      // The wall clock moves between attempts: each retry must carry the new time.
      now: () => t,
      onSleep: (ms) => {
        t += ms;
      },
    });
    s.faults.retryableConflict(2, { op: 'deploy' });
    const from = s.requests.length;
    const r = await deployMachine(client, m.system_id, { distro_series: 'noble' });
    expect(r.ok).toBe(true);
    expect(sleeps).toEqual([5000, 5000]);
    const attempts = since(from, 'deploy');
    expect(attempts.map((a) => a.status)).toEqual([409, 409, 200]);
    expect(new Set(attempts.map(nonceOf)).size).toBe(3);
    const stamps = attempts.map((a) => Number(a.oauth?.['oauth_timestamp']));
    expect(stamps[1]! - stamps[0]!).toBe(5);
    expect(stamps[2]! - stamps[1]!).toBe(5);
    client.close();
  });

  it('does not retry a plain 409 (wrong state): one attempt, no sleep', async () => {
    const m = s.addMachine({ status: S.NEW });
    const { client, sleeps } = clientFor(s);
    const from = s.requests.length;
    const r = await deployMachine(client, m.system_id, { distro_series: 'noble' });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('RB_MAAS_WRONG_STATE');
      expect(r.error.attempts).toBe(1);
    }
    expect(sleeps).toEqual([]);
    expect(since(from, 'deploy')).toHaveLength(1);
    client.close();
  });

  it('gives up after `retries` with RB_MAAS_CONFLICT when the conflict persists', async () => {
    const m = s.addMachine();
    const { client, sleeps } = clientFor(s, { retries: 2 });
    s.faults.retryableConflict(10, { op: 'deploy' });
    const r = await deployMachine(client, m.system_id, { distro_series: 'noble' });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toMatchObject({ code: 'RB_MAAS_CONFLICT', httpStatus: 409, retryAfterSec: 5, attempts: 3 });
      expect(r.error.message).toContain('retryable conflict');
    }
    expect(sleeps).toEqual([5000, 5000]);
    expect(s.machine(m.system_id)['status']).toBe(S.READY);
    client.close();
  });

  it('caps a long Retry-After', async () => {
    const { client, sleeps } = clientFor(s, { maxRetryAfterMs: 1500 });
    s.faults.serviceUnavailable(1, { retryAfter: 600, path: /^machines\/$/ });
    expect((await listMachines(client)).ok).toBe(true);
    expect(sleeps).toEqual([1500]);
    client.close();
  });

  it('retries a GET on 503 without Retry-After, 502 and 504 with backoff, but not a POST', async () => {
    const { client, sleeps } = clientFor(s, { backoff: { baseMs: 100, maxMs: 1000 } });
    s.faults.serviceUnavailable(1, { retryAfter: null, method: 'GET', path: /^machines\/$/ });
    s.faults.gatewayTimeout(1, { method: 'GET', path: /^machines\/$/ });
    s.faults.add({ status: 502, body: 'Bad Gateway', method: 'GET', path: /^machines\/$/ });
    expect((await listMachines(client)).ok).toBe(true);
    expect(sleeps).toHaveLength(3);
    // 100, 200, 400 ms with ±20 % jitter.
    expect(sleeps[0]).toBeGreaterThanOrEqual(80);
    expect(sleeps[0]).toBeLessThanOrEqual(120);
    expect(sleeps[2]).toBeGreaterThanOrEqual(320);
    expect(sleeps[2]).toBeLessThanOrEqual(480);

    const m = s.addMachine();
    const exhausted = errorFixture('service-unavailable-ip-exhaustion');
    s.faults.add({ status: 503, body: (exhausted.body as string).replace('abc123', m.system_id), op: 'deploy' });
    const before = sleeps.length;
    const r = await deployMachine(client, m.system_id, { distro_series: 'noble' });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toMatchObject({ code: 'RB_MAAS_UNAVAILABLE', httpStatus: 503, attempts: 1 });
      expect(r.error.body).toBe(`${m.system_id}: Unable to allocate static IP due to address exhaustion.`);
    }
    expect(sleeps.length).toBe(before);
    s.faults.gatewayTimeout(1, { op: 'deploy' });
    const g = await deployMachine(client, m.system_id, { distro_series: 'noble' });
    expect(g.ok ? null : [g.error.code, g.error.attempts]).toEqual(['RB_MAAS_GATEWAY_TIMEOUT', 1]);
    client.close();
  });

  it('times out a slow answer; retries it for a GET, not for a POST', async () => {
    const m = s.addMachine({ power_state: 'on' });
    // Generous timeouts: the slow answers wait 60 s (cut short by stop()), normal ones take milliseconds.
    const { client, sleeps } = clientFor(s, { timeoutMs: 500, retries: 0 });
    s.faults.slow(60_000, 1, { op: 'query_power_state' });
    const r = await queryPowerState(client, m.system_id);
    expect(r.ok ? null : [r.error.code, r.error.cause]).toEqual(['RB_MAAS_TIMEOUT', 'ETIMEDOUT']);
    client.close();

    const retrying = clientFor(s, { timeoutMs: 2000, retries: 2 });
    s.faults.slow(60_000, 1, { op: 'query_power_state' });
    expect(await queryPowerState(retrying.client, m.system_id)).toEqual({ ok: true, value: 'on' });
    expect(retrying.sleeps).toHaveLength(1);

    const n = s.addMachine();
    s.faults.slow(60_000, 1, { op: 'allocate' });
    const a = await allocateMachine(retrying.client, { system_id: n.system_id });
    expect(a.ok ? null : [a.error.code, a.error.attempts]).toEqual(['RB_MAAS_TIMEOUT', 1]);
    retrying.client.close();
    expect(sleeps).toEqual([]);
  });

  it('retries a refused connection (MAAS restarting) for any method and gets through once it is back', async () => {
    const m = s.addMachine();
    await s.stop();
    let restarted = false;
    const { client, sleeps } = clientFor(s, {
      onSleep: async () => {
        if (!restarted) {
          restarted = true;
          await s.start();
        }
      },
    });
    const r = await allocateMachine(client, { system_id: m.system_id });
    expect(r.ok && r.value.status_name).toBe('Allocated');
    expect(sleeps).toHaveLength(1);
    client.close();
  });

  it('keeps machines, owners and events across restart()', async () => {
    const m = s.addMachine();
    const { client } = clientFor(s);
    expect((await deployMachine(client, m.system_id, { distro_series: 'noble' })).ok).toBe(true);
    await s.restart();
    client.close();
    const again = clientFor(s);
    const r = await readMachine(again.client, m.system_id);
    expect(r.ok && [r.value.status_name, r.value.owner, r.value.distro_series]).toEqual(['Deploying', 'admin', 'noble']);
    again.client.close();
  });

  it('reports an abort as RB_MAAS_ABORTED', async () => {
    const { client } = clientFor(s);
    s.faults.slow(60_000, 1, { path: /^machines\/$/ });
    const ac = new AbortController();
    const p = client.get('machines/', { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    const r = await p;
    expect(r.ok ? null : r.error.code).toBe('RB_MAAS_ABORTED');
    client.close();
  });

  it('logs retries without the API key', async () => {
    const lines: string[] = [];
    const logger: MaasLogger = {
      warn: (o, msg) => lines.push(msg + ' ' + JSON.stringify(o)),
      debug: (o, msg) => lines.push(msg + ' ' + JSON.stringify(o)),
    };
    const { client } = clientFor(s, { logger });
    s.faults.serviceUnavailable(1, { path: /^machines\/$/ });
    expect((await listMachines(client)).ok).toBe(true);
    expect(lines.some((l) => l.startsWith('MAAS asked to retry') && l.includes('"status":503') && l.includes('"retryAfterSec":10'))).toBe(true);
    for (const part of s.adminKey.split(':')) for (const l of lines) expect(l).not.toContain(part);
    client.close();
  });
});

describe('error mapping', () => {
  it('maps 400 field errors, 400 text, 403, 404 and MAAS texts to codes', async () => {
    const { client } = clientFor(s);
    const user = clientFor(s, { admin: false });

    const unknownTag = await allocateMachine(client, { tags: ['kairos-missing'] });
    expect(unknownTag.ok ? null : unknownTag.error).toMatchObject({ code: 'RB_MAAS_BAD_REQUEST', httpStatus: 400, fields: { tags: ["No such tag(s): 'kairos-missing'."] } });

    const missing = await readMachine(client, 'zzzzzz');
    const nf = errorFixture('not-found-machine');
    expect(missing.ok ? null : missing.error).toMatchObject({ code: 'RB_MAAS_NOT_FOUND', httpStatus: nf.status, body: nf.body });

    const owned = s.addMachine({ status: S.ALLOCATED, owner: 'admin' });
    const denied = await deployMachine(user.client, owned.system_id, { distro_series: 'noble' });
    const fb = errorFixture('forbidden');
    expect(denied.ok ? null : denied.error).toMatchObject({ code: 'RB_MAAS_FORBIDDEN', httpStatus: fb.status, body: fb.body });

    client.close();
    user.client.close();
  });

  it('maps statuses and bodies without a server', () => {
    const ctx = { method: 'POST', path: 'machines/abc123/', op: 'deploy', attempts: 1 };
    const wrong = errorFixture('conflict-deploy-wrong-state');
    const e = mapHttpError(409, { 'content-type': 'text/plain; charset=utf-8' }, wrong.body as string, undefined, ctx);
    expect(e).toMatchObject({ code: 'RB_MAAS_WRONG_STATE', machineStatus: { status: 6, name: 'Deployed' } });
    const noMatch = errorFixture('conflict-allocate-no-match');
    expect(mapHttpError(409, {}, noMatch.body as string, undefined, ctx).code).toBe('RB_MAAS_NO_MATCH');
    const retryable = errorFixture('conflict-retryable-db');
    expect(mapHttpError(409, { 'retry-after': '5', 'content-type': 'text/html; charset=utf-8' }, retryable.body as string, undefined, ctx)).toMatchObject({
      code: 'RB_MAAS_CONFLICT',
      retryAfterSec: 5,
    });
    expect(mapHttpError(504, {}, 'x', undefined, ctx).code).toBe('RB_MAAS_GATEWAY_TIMEOUT');
    expect(mapHttpError(500, {}, 'boom', undefined, ctx).code).toBe('RB_MAAS_SERVER_ERROR');
    expect(mapHttpError(401, {}, 'Authorization Error: Invalid API key.', undefined, ctx).code).toBe('RB_MAAS_UNAUTHORIZED');
    expect(mapHttpError(302, {}, '', undefined, ctx).code).toBe('RB_MAAS_HTTP');
    const series = errorFixture('bad-request-invalid-distro-series');
    expect(mapHttpError(400, { 'content-type': 'application/json' }, JSON.stringify(series.body), series.body, ctx).fields).toEqual(series.body);

    expect(statusFromConflictText(errorFixture('conflict-release-wrong-state').body as string)).toEqual({ status: S.COMMISSIONING, name: 'Commissioning' });
    expect(statusFromConflictText(errorFixture('conflict-abort-wrong-state').body as string)).toEqual({ status: S.READY, name: 'Ready' });
    expect(statusFromConflictText(errorFixture('conflict-mark-fixed-not-broken').body as string)).toBeUndefined();
    expect(statusFromConflictText("Can't deploy a machine that is in the 'Releasing failed' state")).toEqual({ status: 13, name: 'Releasing failed' });

    expect(parseRetryAfter('5')).toBe(5);
    expect(parseRetryAfter(' 10 ')).toBe(10);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
