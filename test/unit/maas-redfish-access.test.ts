import { afterEach, describe, expect, it } from 'vitest';
import { claimInMaas, readRedfishAccess, releaseInMaas } from '../../server/provisioning/maas/redfish-access.js';
import { createMaasStandin, S, type MaasStandin } from '../support/maas-standin/index.js';
import { clientFor } from '../support/maas-standin/testkit.js';

// The MAAS side of redfish-via-maas against the stand-in: BMC access from power_parameters, claiming
// (allocate; lock where MAAS allows it) and the teardown (unlock, release).

let s: MaasStandin | null = null;
afterEach(async () => {
  await s?.stop();
  s = null;
});

describe('redfish-via-maas, MAAS side', () => {
  it('reads the Redfish endpoint and credentials from power_parameters', async () => {
    s = await createMaasStandin();
    const m = s.addMachine({ power_type: 'redfish', power_parameters: { power_address: '192.0.2.21', power_user: 'root', power_pass: 'calvin-secret', node_id: 'System.Embedded.1' } });
    const { client } = clientFor(s);
    const r = await readRedfishAccess(client, m.system_id);
    expect(r).toEqual({ ok: true, access: { systemId: m.system_id, endpoint: 'https://192.0.2.21', username: 'root', password: 'calvin-secret', nodeId: 'System.Embedded.1' } });
    expect(s.requests.some((q) => q.op === 'power_parameters' && q.path === `machines/${m.system_id}/`)).toBe(true);
    client.close();
  });

  it('refuses a machine whose power type is not redfish, or whose parameters are incomplete', async () => {
    s = await createMaasStandin();
    const ipmi = s.addMachine({ power_type: 'ipmi', power_parameters: { power_address: '192.0.2.22', power_user: 'a', power_pass: 'b' } });
    const bare = s.addMachine({ power_type: 'redfish', power_parameters: { power_address: '192.0.2.23' } });
    const { client } = clientFor(s);
    const a = await readRedfishAccess(client, ipmi.system_id);
    expect(a.ok).toBe(false);
    if (!a.ok) expect(a.reason).toContain("power_type 'ipmi', not 'redfish'");
    const b = await readRedfishAccess(client, bare.system_id);
    expect(b.ok).toBe(false);
    if (!b.ok) expect(b.reason).toContain('power_user, power_pass');
    // A non-admin key cannot read power parameters: MAAS's 403 comes back as the reason.
    const user = clientFor(s, { admin: false }).client;
    const c = await readRedfishAccess(user, s.addMachine({ power_type: 'redfish' }).system_id);
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.reason).toMatch(/403/);
    client.close();
    user.close();
  });

  it('claims a Ready machine by allocation, locks a Deployed one, and teardown unlocks and releases', async () => {
    s = await createMaasStandin({ timings: { releaseMs: 1000 } });
    const ready = s.addMachine({ status: S.READY });
    const deployed = s.addMachine({ status: S.DEPLOYED, owner: 'admin' });
    const { client } = clientFor(s);

    const c1 = await claimInMaas(client, ready.system_id, 'rackboot', 'rackboot: n1');
    expect(c1).toMatchObject({ ok: true, locked: false });
    expect(s.machine(ready.system_id)).toMatchObject({ status: S.ALLOCATED, owner: 'admin', locked: false });
    const c2 = await claimInMaas(client, deployed.system_id, 'rackboot', 'rackboot: n2');
    expect(c2).toMatchObject({ ok: true, locked: true });
    expect(s.machine(deployed.system_id).locked).toBe(true);
    // Claiming again is harmless.
    expect(await claimInMaas(client, deployed.system_id, 'rackboot', 'again')).toMatchObject({ ok: true, locked: true });

    const r2 = await releaseInMaas(client, deployed.system_id, 'rackboot: teardown');
    expect(r2).toEqual({ ok: true, unlocked: true, released: true });
    expect(s.machine(deployed.system_id)).toMatchObject({ locked: false, status: S.RELEASING });
    const r1 = await releaseInMaas(client, ready.system_id, 'rackboot: teardown');
    expect(r1).toEqual({ ok: true, unlocked: false, released: true });
    s.advance(2000);
    expect(s.machine(ready.system_id)).toMatchObject({ status: S.READY, owner: null });
    // Already released: nothing to do.
    expect(await releaseInMaas(client, ready.system_id, 'again')).toEqual({ ok: true, unlocked: false, released: false });
    const ops = s.requests.filter((q) => q.method === 'POST').map((q) => `${q.op} ${q.path}`);
    expect(ops).toEqual([
      `allocate machines/`,
      `lock machines/${deployed.system_id}/`,
      `unlock machines/${deployed.system_id}/`,
      `release machines/${deployed.system_id}/`,
      `release machines/${ready.system_id}/`,
    ]);
    client.close();
  });

  it('refuses to claim a machine MAAS is busy with', async () => {
    s = await createMaasStandin();
    const m = s.addMachine({ status: S.COMMISSIONING });
    const { client } = clientFor(s);
    const r = await claimInMaas(client, m.system_id, 'rackboot', 'x');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain("is 'Commissioning'");
    client.close();
  });
});
