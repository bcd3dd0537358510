import { describe, expect, it } from 'vitest';
import { planBoot } from '../../server/boot/boot-plan.js';
import { validateConfig } from '../../server/config/load.js';
import { maasModeOf } from '../../server/inventory/maas-mode.js';
import type { Machine } from '../../server/inventory/machine.js';

// Which machines MAAS installs, and that rackboot's boot decisions step aside for them.

function cfg(maasMode?: string) {
  const r = validateConfig(
    {
      advertiseAddress: '192.0.2.1',
      profiles: { appliance: { kernel: 'k' } },
      boot: { defaultProfile: 'appliance' },
      ...(maasMode !== undefined ? { maas: { url: 'http://192.0.2.5:5240/MAAS', apiKey: 'a:b:c', mode: maasMode } } : {}),
    },
    '/tmp',
  );
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

function machine(maas: Machine['maas']): Machine {
  return {
    id: '11111111-2222-4333-8444-555555555555', name: 'n1', macs: ['52:54:00:00:00:01'], smbiosUuid: null, serial: null, arch: null, firmware: null, role: null, rack: null,
    tags: [], network: null, disks: [], profile: null, bmc: null, maas, state: 'provisioning', stateEnteredAt: '', stateReason: null, failedFrom: null, discovery: null, tokenGeneration: 1, createdAt: '', updatedAt: '',
  };
}

describe('MAAS mode of a machine', () => {
  it('takes the machine mode, else the site mode for machines linked to MAAS, else none', () => {
    expect(maasModeOf(machine(null), cfg('deploy').maas)).toBeNull();
    expect(maasModeOf(machine({ systemId: 'abc123' }), cfg('deploy').maas)).toBe('deploy');
    expect(maasModeOf(machine({ systemId: 'abc123', mode: 'inventory' }), cfg('deploy').maas)).toBe('inventory');
    expect(maasModeOf(machine({ systemId: 'abc123' }), cfg().maas)).toBeNull();
    expect(maasModeOf(machine({ systemId: 'abc123' }), cfg('redfish-via-maas').maas)).toBe('redfish-via-maas');
  });

  it('rackboot does not network-boot a machine MAAS deploys, and does boot one in inventory mode', () => {
    const deploy = planBoot(machine({ systemId: 'abc123' }), cfg('deploy'));
    expect(deploy.kind).toBe('ignore');
    expect(planBoot(machine({ systemId: 'abc123', mode: 'inventory' }), cfg('deploy')).kind).toBe('netboot');
    expect(planBoot(machine(null), cfg('deploy')).kind).toBe('netboot');
  });

  it('the config needs exactly one of apiKey and apiKeyFile, and a sync profile that exists', () => {
    const bad = validateConfig({ advertiseAddress: '192.0.2.1', maas: { url: 'http://192.0.2.5:5240/MAAS', sync: { profile: 'nope' } } }, '/tmp');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues.map((i) => i.path)).toEqual(['maas', 'maas.sync.profile']);
    const key = validateConfig({ advertiseAddress: '192.0.2.1', maas: { url: 'http://192.0.2.5:5240/MAAS', apiKey: 'not-a-key' } }, '/tmp');
    expect(key.ok).toBe(false);
    // The key's value never appears in a config error.
    if (!key.ok) expect(JSON.stringify(key.issues)).not.toContain('not-a-key');
  });
});
