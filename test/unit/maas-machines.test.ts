import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  abortMachine,
  addTag,
  allocateMachine,
  checkSchema,
  deployMachine,
  isDeployTerminal,
  isFailed,
  listMachines,
  lockMachine,
  markBroken,
  markFixed,
  powerOff,
  powerOn,
  queryPowerState,
  readMachine,
  readPowerParameters,
  readPowerParametersBulk,
  releaseMachine,
  removeTag,
  unlockMachine,
  updateTagNodes,
  type MaasClient,
  type MaasMachine,
  type MaasResult,
} from '../../maas/index.js';
import { MachineSchema } from '../../maas/schema.js';
import { createMaasStandin, S, type MaasStandin } from '../support/maas-standin/index.js';
import { clientFor, errorFixture, maasFixture } from '../support/maas-standin/testkit.js';

let s: MaasStandin;
let admin: MaasClient;
let user: MaasClient;
beforeAll(async () => {
  s = await createMaasStandin({ timings: { deployMs: 70_000, releaseMs: 10_000, diskEraseMs: 30_000 } });
  admin = clientFor(s).client;
  user = clientFor(s, { admin: false }).client;
});
afterAll(async () => {
  admin.close();
  user.close();
  await s.stop();
});

function value<T>(r: MaasResult<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.value;
}

function errorOf<T>(r: MaasResult<T>) {
  if (r.ok) throw new Error('expected an error');
  return r.error;
}

describe('list and read', () => {
  it('filters server-side on hostname, mac_address, tags, pool, zone and status (repeated keys)', async () => {
    const a = s.addMachine({ hostname: 'lst-a', tags: ['lst', 'gpu'], pool: 'lst-pool', zone: 'lst-zone', mac: '52:54:00:aa:00:01' });
    const b = s.addMachine({ hostname: 'lst-b', tags: ['lst'], pool: 'lst-pool', zone: 'default', status: S.DEPLOYED, owner: 'admin' });
    const c = s.addMachine({ hostname: 'lst-c', tags: ['lst'], status: S.FAILED_DEPLOYMENT, owner: 'admin' });
    const names = async (f: Parameters<typeof listMachines>[1]) => value(await listMachines(admin, f)).map((m) => m.hostname);
    expect(await names({ tags: 'lst' })).toEqual(['lst-a', 'lst-b', 'lst-c']);
    expect(await names({ tags: ['lst', 'gpu'] })).toEqual(['lst-a']);
    expect(await names({ tags: 'lst', not_tags: 'gpu' })).toEqual(['lst-b', 'lst-c']);
    expect(await names({ hostname: ['lst-c', 'lst-a'] })).toEqual(['lst-a', 'lst-c']);
    expect(await names({ mac_address: '52:54:00:AA:00:01' })).toEqual(['lst-a']);
    expect(await names({ pool: 'lst-pool' })).toEqual(['lst-a', 'lst-b']);
    expect(await names({ zone: 'lst-zone' })).toEqual(['lst-a']);
    expect(await names({ tags: 'lst', status: ['deployed', S.FAILED_DEPLOYMENT] })).toEqual(['lst-b', 'lst-c']);
    expect(await names({ tags: 'lst', not_status: 'ready' })).toEqual(['lst-b', 'lst-c']);
    expect(await names({ id: [c.system_id, a.system_id, b.system_id] })).toEqual(['lst-a', 'lst-b', 'lst-c']);
  });

  it('refuses unknown tags, pools, zones and statuses with field errors', async () => {
    expect(errorOf(await listMachines(admin, { tags: 'nope-tag' })).fields).toEqual({ tags: ["No such tag(s): 'nope-tag'."] });
    expect(errorOf(await listMachines(admin, { pool: 'nope-pool', zone: 'nope-zone' })).fields).toEqual({
      pool: ['No such pool(s): nope-pool.'],
      zone: ['No such zone(s): nope-zone.'],
    });
    expect(errorOf(await listMachines(admin, { status: 'dancing' as 'ready' })).fields).toEqual({
      status: ['Select a valid choice. dancing is not one of the available choices.'],
    });
  });

  it('reads one machine; an unknown one is RB_MAAS_NOT_FOUND with MAAS text', async () => {
    const m = s.addMachine({ hostname: 'rd-1' });
    expect(value(await readMachine(admin, m.system_id))).toMatchObject({ system_id: m.system_id, hostname: 'rd-1', status: S.READY, status_name: 'Ready', fqdn: 'rd-1.maas' });
    expect(errorOf(await readMachine(admin, 'zzzzzz'))).toMatchObject({ code: 'RB_MAAS_NOT_FOUND', body: errorFixture('not-found-machine').body });
  });

  it("validates MAAS's own machine examples against the client's schema", () => {
    expect(checkSchema(MachineSchema, maasFixture('machine-allocate.maas-example.json'), 'machine').ok).toBe(true);
    expect(checkSchema(MachineSchema, maasFixture('machine.gomaasclient.json'), 'machine').ok).toBe(true);
    const broken = { ...maasFixture<Record<string, unknown>>('machine.gomaasclient.json') };
    delete broken['system_id'];
    const r = checkSchema(MachineSchema, broken, 'machine');
    expect(r.ok ? null : r.error.code).toBe('RB_MAAS_BAD_RESPONSE');
  });
});

describe('allocate', () => {
  it('claims a machine by system_id, or by tags, pool and zone, recording agent_name', async () => {
    const m = s.addMachine({ hostname: 'al-1' });
    const got = value(await allocateMachine(admin, { system_id: m.system_id, agent_name: 'rackboot' }));
    expect(got).toMatchObject({ system_id: m.system_id, status: S.ALLOCATED, status_name: 'Allocated', owner: 'admin' });
    expect(s.state.machines.get(m.system_id)!.agent_name).toBe('rackboot');

    s.addMachine({ hostname: 'al-2', tags: ['al'], pool: 'al-pool', zone: 'al-zone-a' });
    const want = s.addMachine({ hostname: 'al-3', tags: ['al', 'nvme'], pool: 'al-pool', zone: 'al-zone-b' });
    const byConstraints = value(await allocateMachine(user, { tags: ['al', 'nvme'], pool: 'al-pool', zone: 'al-zone-b' }));
    expect(byConstraints.system_id).toBe(want.system_id);
    expect(byConstraints.owner).toBe('user1');
  });

  it('answers no match with RB_MAAS_NO_MATCH and MAAS text', async () => {
    s.state.addTag('kairos');
    const e = errorOf(await allocateMachine(admin, { tags: ['kairos'] }));
    expect(e).toMatchObject({ code: 'RB_MAAS_NO_MATCH', httpStatus: 409, body: errorFixture('conflict-allocate-no-match').body });
    const taken = s.addMachine({ status: S.DEPLOYED, owner: 'admin' });
    expect(errorOf(await allocateMachine(admin, { system_id: taken.system_id })).body).toBe(`No machine with system ID ${taken.system_id} available.`);
    expect(errorOf(await allocateMachine(admin, { tags: ['kairos-nope'] })).fields).toEqual({ tags: ["No such tag(s): 'kairos-nope'."] });
  });

  it('answers "No machine available." when nothing at all is free', async () => {
    const empty = await createMaasStandin();
    const { client } = clientFor(empty);
    try {
      expect(errorOf(await allocateMachine(client)).body).toBe('No machine available.');
    } finally {
      client.close();
      await empty.stop();
    }
  });
});

describe('deploy', () => {
  const INSTALL_TRAIL = ['Deploying', 'Performing PXE boot', 'Loading ephemeral', 'Configuring storage', 'Installing OS', 'Configuring OS', 'Rebooting', 'Deployed'];

  it('deploys with distro_series and base64 user_data; Deploying becomes Deployed as time passes', async () => {
    const m = s.addMachine({ hostname: 'dp-1' });
    value(await allocateMachine(admin, { system_id: m.system_id }));
    const userData = Buffer.concat([Buffer.from('#cloud-config\ninstall:\n  auto: true\n'), Buffer.from([0, 255, 1, 254])]);
    const r = value(await deployMachine(admin, m.system_id, { distro_series: 'noble', userData, hwe_kernel: 'ga-24.04', agent_name: 'rackboot' }));
    expect(r).toMatchObject({ status: S.DEPLOYING, status_name: 'Deploying', osystem: 'ubuntu', distro_series: 'noble', hwe_kernel: 'ga-24.04', power_state: 'on' });
    expect(s.userData(m.system_id)!.equals(userData)).toBe(true);

    const seen: string[] = [];
    for (let i = 0; i < 10; i++) {
      const cur = value(await readMachine(admin, m.system_id));
      if (seen[seen.length - 1] !== cur.status_message) seen.push(cur.status_message ?? '');
      if (isDeployTerminal(cur.status)) break;
      s.advance(10_000);
    }
    expect(seen).toEqual(INSTALL_TRAIL);
    const done = value(await readMachine(admin, m.system_id));
    expect(done).toMatchObject({ status: S.DEPLOYED, status_name: 'Deployed', netboot: false });
  });

  it('deploys a Ready machine directly (MAAS allocates it) and joins osystem with a bare series', async () => {
    const m = s.addMachine({ hostname: 'dp-2' });
    const r = value(await deployMachine(user, m.system_id, { osystem: 'ubuntu', distro_series: 'jammy' }));
    expect(r).toMatchObject({ status_name: 'Deploying', owner: 'user1', osystem: 'ubuntu', distro_series: 'jammy' });
    const sent = s.requests[s.requests.length - 1]!;
    expect(sent.form).toContainEqual(['distro_series', 'ubuntu/jammy']);
  });

  it('refuses a New machine with RB_MAAS_WRONG_STATE naming the status', async () => {
    const m = s.addMachine({ status: S.NEW });
    const e = errorOf(await deployMachine(admin, m.system_id, { distro_series: 'noble' }));
    expect(e).toMatchObject({
      code: 'RB_MAAS_WRONG_STATE',
      httpStatus: 409,
      machineStatus: { status: S.NEW, name: 'New' },
      systemId: m.system_id,
      body: "Can't deploy a machine that is in the 'New' state",
    });
    expect(e.retryAfterSec).toBeUndefined();
    expect(e.message).toBe(`MAAS refused deploy on machine ${m.system_id} in status 'New' (0): Can't deploy a machine that is in the 'New' state`);
  });

  it('refuses a Deployed machine with the exact MAAS sentence, and a Deploying one', async () => {
    const d = s.addMachine({ status: S.DEPLOYED, owner: 'admin', osystem: 'ubuntu', distro_series: 'noble' });
    const e = errorOf(await deployMachine(admin, d.system_id, { distro_series: 'noble' }));
    expect(e.body).toBe(errorFixture('conflict-deploy-wrong-state').body);
    expect(e.machineStatus).toEqual({ status: S.DEPLOYED, name: 'Deployed' });
    const m = s.addMachine();
    value(await deployMachine(admin, m.system_id, { distro_series: 'noble' }));
    expect(errorOf(await deployMachine(admin, m.system_id, { distro_series: 'noble' })).machineStatus).toEqual({ status: S.DEPLOYING, name: 'Deploying' });
  });

  it('ends in Failed deployment when the install fails (injected) or never reports back', async () => {
    const bad = s.addMachine({ deployOutcome: 'fail' });
    const hung = s.addMachine({ deployOutcome: 'hang' });
    value(await deployMachine(admin, bad.system_id, { distro_series: 'noble' }));
    value(await deployMachine(admin, hung.system_id, { distro_series: 'noble' }));
    s.advance(70_000);
    const failed = value(await readMachine(admin, bad.system_id));
    expect(failed).toMatchObject({
      status: S.FAILED_DEPLOYMENT,
      status_name: 'Failed deployment',
      error_description: 'Installation failed (refer to the installation log for more information).',
      status_message: 'Marking node failed - Installation failed (refer to the installation log for more information).',
    });
    expect(isFailed(failed.status)).toBe(true);
    expect(value(await readMachine(admin, hung.system_id)).status_name).toBe('Deploying');
    s.advance(2 * 30 * 60_000);
    expect(value(await readMachine(admin, hung.system_id))).toMatchObject({
      status_name: 'Failed deployment',
      error_description: "Node operation 'Deploying' timed out after 30 minutes.",
    });
    // Failed deployment cannot go straight back to Deploying: release first.
    expect(errorOf(await deployMachine(admin, bad.system_id, { distro_series: 'noble' })).machineStatus?.name).toBe('Failed deployment');
  });

  it('refuses a series that is not imported with MAAS field errors', async () => {
    const only = await createMaasStandin({ ubuntuSeries: ['noble'], defaultDistroSeries: 'noble' });
    const { client } = clientFor(only);
    try {
      const m = only.addMachine({ system_id: 'abc123' });
      const e = errorOf(await deployMachine(client, m.system_id, { distro_series: 'custom/nonexistent' }));
      expect(e.code).toBe('RB_MAAS_BAD_REQUEST');
      expect(e.fields).toEqual(errorFixture('bad-request-invalid-distro-series').body);
    } finally {
      client.close();
      await only.stop();
    }
  });
});

describe('release, abort, broken/fixed, lock', () => {
  it('releases through Releasing to Ready; Ready is a no-op; Commissioning is refused', async () => {
    const m = s.addMachine({ status: S.DEPLOYED, owner: 'admin', osystem: 'ubuntu', distro_series: 'noble' });
    expect(value(await releaseMachine(admin, m.system_id, { comment: 'done' }))).toMatchObject({ status_name: 'Releasing', owner: 'admin' });
    s.advance(10_000);
    expect(value(await readMachine(admin, m.system_id))).toMatchObject({ status_name: 'Ready', owner: null, osystem: '', distro_series: '' });
    expect(value(await releaseMachine(admin, m.system_id)).status_name).toBe('Ready');

    const erase = s.addMachine({ status: S.ALLOCATED, owner: 'admin' });
    expect(value(await releaseMachine(admin, erase.system_id, { erase: true, quick_erase: true })).status_name).toBe('Disk erasing');

    const c = s.addMachine({ status: S.COMMISSIONING });
    const e = errorOf(await releaseMachine(admin, c.system_id));
    expect(e).toMatchObject({ code: 'RB_MAAS_WRONG_STATE', body: errorFixture('conflict-release-wrong-state').body, machineStatus: { status: S.COMMISSIONING, name: 'Commissioning' } });
  });

  it('aborts a deployment back to Allocated; refuses to abort a Ready machine', async () => {
    const m = s.addMachine();
    value(await deployMachine(admin, m.system_id, { distro_series: 'noble' }));
    s.advance(20_000);
    expect(value(await abortMachine(admin, m.system_id, { comment: 'wrong image' }))).toMatchObject({ status_name: 'Allocated', power_state: 'off' });
    s.advance(100_000);
    expect(value(await readMachine(admin, m.system_id)).status_name).toBe('Allocated');

    const r = s.addMachine({ system_id: 'abc123' });
    const e = errorOf(await abortMachine(admin, r.system_id));
    expect(e.body).toBe(errorFixture('conflict-abort-wrong-state').body);
    expect(e.machineStatus).toEqual({ status: S.READY, name: 'Ready' });
  });

  it('marks broken (owner only) and fixed (admin only, 409 unless Broken)', async () => {
    const m = s.addMachine({ status: S.ALLOCATED, owner: 'user1' });
    expect(errorOf(await markBroken(admin, m.system_id)).code).toBe('RB_MAAS_FORBIDDEN');
    expect(value(await markBroken(user, m.system_id, { comment: 'bad disk' }))).toMatchObject({ status_name: 'Broken', error_description: 'bad disk' });
    expect(errorOf(await markFixed(user, m.system_id)).code).toBe('RB_MAAS_FORBIDDEN');
    expect(value(await markFixed(admin, m.system_id))).toMatchObject({ status_name: 'Ready', error_description: '' });
    const e = errorOf(await markFixed(admin, m.system_id));
    // MAAS's sentence names the target ('Ready'); the error names the machine's real status from a re-read.
    expect(e).toMatchObject({ code: 'RB_MAAS_WRONG_STATE', body: errorFixture('conflict-mark-fixed-not-broken').body, machineStatus: { status: S.READY, name: 'Ready' } });
  });

  it('locks a deployed machine (which then refuses edits) and unlocks it', async () => {
    const m = s.addMachine({ status: S.DEPLOYED, owner: 'admin', osystem: 'ubuntu', distro_series: 'noble' });
    expect(value(await lockMachine(admin, m.system_id, { comment: 'prod' })).locked).toBe(true);
    expect(errorOf(await lockMachine(admin, m.system_id)).body).toBe('Machine is already locked');
    expect(errorOf(await releaseMachine(admin, m.system_id)).code).toBe('RB_MAAS_FORBIDDEN');
    expect(errorOf(await powerOff(admin, m.system_id)).code).toBe('RB_MAAS_FORBIDDEN');
    expect(value(await unlockMachine(admin, m.system_id)).locked).toBe(false);
    expect(errorOf(await unlockMachine(admin, m.system_id)).body).toBe('Machine is not locked');
    const ready = s.addMachine({ owner: 'admin', status: S.ALLOCATED });
    expect(errorOf(await lockMachine(admin, ready.system_id))).toMatchObject({ body: "Can't lock, node is not deployed or deploying", machineStatus: { name: 'Allocated' } });
  });
});

describe('power', () => {
  it('powers on (allocated only, storing user_data), off, and queries the state', async () => {
    const m = s.addMachine({ system_id: 'pw0001' });
    const e = errorOf(await powerOn(admin, m.system_id));
    expect(e).toMatchObject({ code: 'RB_MAAS_WRONG_STATE', body: errorFixture('conflict-power-on-unallocated').body, machineStatus: { name: 'Ready' } });
    value(await allocateMachine(admin, { system_id: m.system_id }));
    expect(value(await powerOn(admin, m.system_id, { userData: '#!/bin/sh\necho hi\n' })).power_state).toBe('on');
    expect(s.userData(m.system_id)!.toString()).toBe('#!/bin/sh\necho hi\n');
    expect(value(await queryPowerState(admin, m.system_id))).toBe('on');
    const off = value(await powerOff(admin, m.system_id, { stop_mode: 'soft' }));
    expect(off?.power_state).toBe('off');
    expect(s.requests[s.requests.length - 1]!.form).toEqual([['stop_mode', 'soft']]);
    expect(value(await queryPowerState(admin, m.system_id))).toBe('off');

    const manual = s.addMachine({ power_type: 'manual', status: S.ALLOCATED, owner: 'admin' });
    expect(value(await powerOff(admin, manual.system_id))).toBeNull();
  });

  it('reads power parameters for one machine and in bulk (admin only)', async () => {
    const a = s.addMachine({ power_type: 'redfish', power_parameters: { power_address: '10.9.9.1', power_user: 'root', power_pass: 'pw', node_id: '1' } });
    const b = s.addMachine({
      power_type: 'ipmi',
      power_parameters: { power_driver: 'LAN_2_0', power_boot_type: 'efi', power_address: '10.9.9.2', power_user: 'ADMIN', power_pass: 'pw2', cipher_suite_id: '3', privilege_level: 'OPERATOR' },
    });
    expect(value(await readPowerParameters(admin, a.system_id))).toEqual({ power_address: '10.9.9.1', power_user: 'root', power_pass: 'pw', node_id: '1' });
    const bulk = value(await readPowerParametersBulk(admin, [a.system_id, b.system_id]));
    expect(Object.keys(bulk).sort()).toEqual([a.system_id, b.system_id].sort());
    expect(bulk[b.system_id]).toMatchObject({ power_driver: 'LAN_2_0', power_address: '10.9.9.2' });
    expect(s.requests[s.requests.length - 1]!.query).toEqual([
      ['op', 'power_parameters'],
      ['id', a.system_id],
      ['id', b.system_id],
    ]);
    expect(errorOf(await readPowerParameters(user, a.system_id)).code).toBe('RB_MAAS_FORBIDDEN');
  });
});

describe('tags', () => {
  it('adds and removes machines with update_nodes (repeated add/remove keys)', async () => {
    s.state.addTag('appliance');
    const a = s.addMachine();
    const b = s.addMachine();
    expect(value(await addTag(admin, 'appliance', [a.system_id, b.system_id]))).toEqual({ added: 2, removed: 0 });
    expect(s.requests[s.requests.length - 1]!.form).toEqual([
      ['add', a.system_id],
      ['add', b.system_id],
    ]);
    expect(value(await readMachine(admin, a.system_id)).tag_names).toContain('appliance');
    const listed: MaasMachine[] = value(await listMachines(admin, { tags: 'appliance' }));
    expect(listed.map((m) => m.system_id).sort()).toEqual([a.system_id, b.system_id].sort());
    expect(value(await removeTag(admin, 'appliance', [a.system_id]))).toEqual({ added: 0, removed: 1 });
    expect(value(await updateTagNodes(admin, 'appliance', { add: [a.system_id], remove: [b.system_id] }))).toEqual({ added: 1, removed: 1 });
    expect(errorOf(await addTag(user, 'appliance', [a.system_id])).code).toBe('RB_MAAS_FORBIDDEN');
    expect(errorOf(await addTag(admin, 'no-such-tag', [a.system_id]))).toMatchObject({ code: 'RB_MAAS_NOT_FOUND', body: 'No Tag matches the given query.' });
  });
});
