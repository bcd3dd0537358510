import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../../server/enrollment/cluster.js';
import type { Machine } from '../../server/inventory/machine.js';
import { buildHttpFixture, type HttpFixture } from '../support/http-fixture.js';

// GET /api/v1/machines?cluster=: exactly the members of a cluster (by id or name), combined with the
// other filters and pagination; an unknown cluster is a 404 problem, not an empty page.

let f: HttpFixture;
let machines: Machine[];
let alpha: Cluster;

const spec = { vip: '10.250.0.100', ntpServers: [], sshKeys: [], profileVariables: [], contentBundle: 'bundle' };

beforeEach(async () => {
  f = await buildHttpFixture();
  machines = [];
  for (let i = 1; i <= 6; i++) {
    machines.push(await f.addMachine({ name: `n${i}`, macs: [`52:54:00:00:01:0${i}`], rack: i % 2 === 0 ? 'even' : 'odd' }));
  }
  // alpha: n1, n2, n3, n4; beta: n5; n6 in no cluster.
  alpha = await f.store.clusters.create({ name: 'alpha', spec, members: machines.slice(0, 4).map((m, i) => ({ machineId: m.id, role: i === 0 ? 'control-plane' : 'worker' })) });
  await f.store.clusters.create({ name: 'beta', spec, members: [{ machineId: machines[4]!.id, role: 'control-plane' }] });
});
afterEach(async () => {
  await f.cleanup();
});

async function list(query: string): Promise<{ status: number; body: { items?: Machine[]; total?: number; status?: number; detail?: string } ; type: string }> {
  const r = await f.app.inject({ url: `/api/v1/machines?${query}`, headers: f.auth('viewer') });
  return { status: r.statusCode, body: r.json(), type: String(r.headers['content-type']) };
}

describe('GET /api/v1/machines?cluster=', () => {
  it('returns exactly the members, by id or by name', async () => {
    for (const key of [alpha.id, 'alpha']) {
      const r = await list(`cluster=${key}`);
      expect(r.status).toBe(200);
      expect(r.body.items!.map((m) => m.name)).toEqual(['n1', 'n2', 'n3', 'n4']);
      expect(r.body.total).toBe(4);
    }
    const beta = await list('cluster=beta');
    expect(beta.body.items!.map((m) => m.name)).toEqual(['n5']);
  });

  it('combines with other filters and paginates', async () => {
    const even = await list('cluster=alpha&rack=even');
    expect(even.body.items!.map((m) => m.name)).toEqual(['n2', 'n4']);
    expect(even.body.total).toBe(2);
    const p1 = await list('cluster=alpha&limit=3&offset=0');
    const p2 = await list('cluster=alpha&limit=3&offset=3');
    expect(p1.body.items!.map((m) => m.name)).toEqual(['n1', 'n2', 'n3']);
    expect(p2.body.items!.map((m) => m.name)).toEqual(['n4']);
    expect([p1.body.total, p2.body.total]).toEqual([4, 4]);
    const none = await list('cluster=beta&rack=even');
    expect(none.body.items).toEqual([]);
    expect(none.body.total).toBe(0);
  });

  it('answers an unknown cluster with 404 problem+json', async () => {
    for (const key of ['gamma', '00000000-0000-4000-8000-000000000000']) {
      const r = await list(`cluster=${key}`);
      expect(r.status).toBe(404);
      expect(r.type).toMatch(/^application\/problem\+json/);
      expect(r.body.detail).toContain(key);
    }
    expect((await list('cluster=')).status).toBe(400);
  });
});
