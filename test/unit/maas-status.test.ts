import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ALL_MAAS_STATUS_CODES,
  canDeploy,
  canRelease,
  describeStatus,
  isDeployed,
  isDeployTerminal,
  isFailed,
  isMaasStatusCode,
  isTransient,
  listMachines,
  MAAS_STATUS,
  MAAS_STATUS_NAMES,
  simpleStatus,
  statusFilterName,
  statusFromFilterName,
  statusFromName,
  type MaasStatusCode,
} from '../../maas/index.js';
import { createMaasStandin, type MaasStandin } from '../support/maas-standin/index.js';
import { clientFor } from '../support/maas-standin/testkit.js';

/** canonical/maas src/maascommon/enums/node.py + src/maasserver/enum.py NODE_STATUS_CHOICES (MAAS 3.6). */
const TABLE: [number, string, string][] = [
  [0, 'new', 'New'],
  [1, 'commissioning', 'Commissioning'],
  [2, 'failed_commissioning', 'Failed commissioning'],
  [3, 'missing', 'Missing'],
  [4, 'ready', 'Ready'],
  [5, 'reserved', 'Reserved'],
  [6, 'deployed', 'Deployed'],
  [7, 'retired', 'Retired'],
  [8, 'broken', 'Broken'],
  [9, 'deploying', 'Deploying'],
  [10, 'allocated', 'Allocated'],
  [11, 'failed_deployment', 'Failed deployment'],
  [12, 'releasing', 'Releasing'],
  [13, 'failed_releasing', 'Releasing failed'],
  [14, 'disk_erasing', 'Disk erasing'],
  [15, 'failed_disk_erasing', 'Failed disk erasing'],
  [16, 'rescue_mode', 'Rescue mode'],
  [17, 'entering_rescue_mode', 'Entering rescue mode'],
  [18, 'failed_entering_rescue_mode', 'Failed to enter rescue mode'],
  [19, 'exiting_rescue_mode', 'Exiting rescue mode'],
  [20, 'failed_exiting_rescue_mode', 'Failed to exit rescue mode'],
  [21, 'testing', 'Testing'],
  [22, 'failed_testing', 'Failed testing'],
];

describe('the 23 MAAS statuses', () => {
  it('maps every code to its status_name and filter name, both ways', () => {
    expect(ALL_MAAS_STATUS_CODES).toHaveLength(23);
    expect(ALL_MAAS_STATUS_CODES).toEqual(TABLE.map(([c]) => c));
    for (const [code, filter, name] of TABLE) {
      expect(isMaasStatusCode(code)).toBe(true);
      expect(MAAS_STATUS_NAMES[code as MaasStatusCode]).toBe(name);
      expect(statusFilterName(code as MaasStatusCode)).toBe(filter);
      expect(statusFromFilterName(filter)).toBe(code);
      expect(statusFromFilterName(filter.toUpperCase())).toBe(code);
      expect(statusFromName(name)).toBe(code);
      expect(statusFromName(name.toUpperCase())).toBe(code);
      expect(describeStatus(code)).toEqual({ code, constant: filter.toUpperCase(), name, known: true });
    }
    expect(MAAS_STATUS.FAILED_RELEASING).toBe(13);
  });

  it('keeps unknown future codes instead of rejecting them', () => {
    expect(isMaasStatusCode(23)).toBe(false);
    expect(describeStatus(23)).toEqual({ code: 23, constant: null, name: 'Unknown (23)', known: false });
    expect(describeStatus(42, 'Hibernating')).toEqual({ code: 42, constant: null, name: 'Hibernating', known: false });
    expect(statusFromName('Hibernating')).toBeUndefined();
    expect(isDeployTerminal(42)).toBe(false);
  });

  it('classifies statuses for the deployment flow', () => {
    const where = (f: (c: number) => boolean): number[] => ALL_MAAS_STATUS_CODES.filter(f);
    expect(where(isDeployed)).toEqual([6]);
    expect(where(isFailed)).toEqual([2, 11, 13, 15, 18, 20, 22]);
    expect(where(isTransient)).toEqual([1, 9, 12, 14, 17, 19, 21]);
    expect(where(isDeployTerminal)).toEqual([4, 6, 8, 10, 11]);
    expect(where(canDeploy)).toEqual([4, 10]);
    expect(where(canRelease)).toEqual([4, 5, 6, 8, 9, 10, 11, 12, 13, 15]);
    expect(TABLE.map(([c]) => simpleStatus(c))).toEqual([
      'New',
      'Commissioning',
      'Failed',
      'Other',
      'Ready',
      'Other',
      'Deployed',
      'Other',
      'Broken',
      'Deploying',
      'Allocated',
      'Failed',
      'Releasing',
      'Failed',
      'Releasing',
      'Failed',
      'Rescue Mode',
      'Rescue Mode',
      'Failed',
      'Rescue Mode',
      'Failed',
      'Testing',
      'Failed',
    ]);
  });
});

describe('statuses as MAAS reports them', () => {
  let s: MaasStandin;
  beforeAll(async () => {
    s = await createMaasStandin();
    for (const [code, filter] of TABLE) s.addMachine({ hostname: `st-${filter.replace(/_/g, '-')}`, status: code, tags: ['all-statuses'], owner: code === 4 || code === 0 ? null : 'admin' });
  });
  afterAll(async () => {
    await s.stop();
  });

  it('parses all 23 from machine JSON (status + status_name) and filters on each one server-side', async () => {
    const { client } = clientFor(s);
    const all = await listMachines(client, { tags: 'all-statuses' });
    expect(all.ok).toBe(true);
    if (!all.ok) return;
    expect(all.value).toHaveLength(23);
    for (const m of all.value) {
      const info = describeStatus(m.status, m.status_name);
      expect(info.known).toBe(true);
      expect(m.status_name).toBe(MAAS_STATUS_NAMES[m.status as MaasStatusCode]);
    }
    expect(all.value.map((m) => m.status).sort((a, b) => a - b)).toEqual(TABLE.map(([c]) => c));
    for (const [code, filter] of TABLE) {
      const one = await listMachines(client, { tags: 'all-statuses', status: filter as 'ready' });
      expect(one.ok && one.value.map((m) => m.status)).toEqual([code]);
      const byCode = await listMachines(client, { tags: 'all-statuses', status: code });
      expect(byCode.ok && byCode.value.map((m) => m.hostname)).toEqual([`st-${filter.replace(/_/g, '-')}`]);
    }
    client.close();
  });
});
