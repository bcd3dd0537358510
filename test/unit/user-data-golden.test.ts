import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { bundledBootAssets } from '../../server/boot/assets-path.js';
import { BootUrls } from '../../server/boot/boot-urls.js';
import { MachineTokens } from '../../server/boot/machine-tokens.js';
import { loadUserDataTemplate, renderUserData } from '../../server/boot/user-data.js';
import type { ProfileConfig } from '../../server/config/schema.js';
import type { Machine } from '../../server/inventory/machine.js';

// Golden files for the rendered Kairos + stylus user-data. A change to the template or the renderer
// shows up here as a diff to review; the goldens were read line by line when they were written.

const GOLDEN = fileURLToPath(new URL('../fixtures/user-data/', import.meta.url));
const urls = new BootUrls('http://10.250.0.1:8080', new MachineTokens(Buffer.alloc(32, 9)));

const base: Machine = {
  id: '11111111-2222-4333-8444-555555555555',
  name: 'cp-1',
  macs: ['52:54:00:00:00:01'],
  smbiosUuid: null,
  serial: null,
  arch: 'x86_64',
  firmware: 'uefi',
  role: 'control-plane',
  rack: 'r1',
  tags: [],
  network: null,
  disks: [],
  profile: 'appliance',
  bmc: null,
  maas: null,
  state: 'ready',
  stateEnteredAt: '2026-01-01T00:00:00Z',
  stateReason: null, failedFrom: null,
  discovery: null,
  tokenGeneration: 1,
  createdAt: '',
  updatedAt: '',
};

const profile: ProfileConfig = {
  method: 'netboot',
  appliance: 'palette',
  initrds: [],
  cmdline: '',
  userData: {
    template: 'kairos',
    users: [{ name: 'kairos', passwordHash: '$6$rounds=4096$salt$hash', groups: ['admin'], sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI ops@rack'] }],
    ntpServers: ['10.250.10.123'],
    proxy: { https: 'http://10.250.10.80:3128', noProxy: '10.0.0.0/8,.rack.local' },
  },
};

const CASES: Array<[string, Machine]> = [
  [
    'static-two-disks',
    {
      ...base,
      network: { hostname: 'edge-cp-1', interface: 'eno1', ip: '10.250.10.11', prefix: 24, gateway: '10.250.10.1', dns: ['10.250.10.53'], vlan: 120, mtu: 9000 },
      disks: [
        { path: '/dev/disk/by-id/nvme-SAMSUNG_OS', role: 'os', sizeGb: 480 },
        { path: '/dev/disk/by-id/wwn-0x5000c500a1b2c3d4', role: 'storage' },
      ],
    },
  ],
  ['dhcp-one-disk', { ...base, id: '11111111-2222-4333-8444-666666666666', name: 'w-1', disks: [{ path: '/dev/disk/by-path/pci-0000:00:17.0-ata-1' }] }],
];

describe('user-data golden files', async () => {
  const template = await loadUserDataTemplate(join(bundledBootAssets(), 'templates'), 'kairos');
  for (const [name, m] of CASES) {
    it(`${name} renders exactly as the golden file and parses back as YAML`, () => {
      const r = renderUserData(m, profile, template, null, urls);
      if (!r.ok) throw new Error(r.reason);
      expect(r.text).toBe(readFileSync(join(GOLDEN, `${name}.yaml`), 'utf8'));
      const doc = parseYaml(r.text) as { install: { device: string }; stages: Record<string, unknown[]> };
      expect(doc.install.device).toBe((m.disks.find((d) => d.role === 'os') ?? m.disks[0])!.path);
      expect(Object.keys(doc.stages)).toEqual(['kairos-install.pre', 'after-install', 'network']);
    });
  }
});
