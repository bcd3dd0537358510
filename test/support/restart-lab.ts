// The on-disk set-up for tests that SIGKILL `rackboot serve` during formation and start it again:
// a config pointing at a Local API stand-in rack, installed machines written straight into the store
// (as an install leaves them), and an API caller that follows whichever child is running.

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { REQUIRED_IPXE_BINARIES } from '../../server/boot/ipxe-binaries.js';
import { normalizeMachineInput } from '../../server/inventory/normalize.js';
import { openSqliteStore } from '../../server/store/sqlite/sqlite-store.js';
import type { StandinRack } from './local-api-standin/index.js';

export interface RestartLab {
  config: string;
  dataDir: string;
  bundle: string;
  /** Names of the machines, one per stand-in host, in `installed`. */
  names: string[];
}

export async function writeRestartLab(dir: string, rack: StandinRack, o: { namePrefix: string; macPrefix: string; bundleBytes: number }): Promise<RestartLab> {
  const dataDir = join(dir, 'data');
  const ipxeDir = join(dir, 'ipxe');
  mkdirSync(ipxeDir, { recursive: true });
  for (const name of REQUIRED_IPXE_BINARIES) writeFileSync(join(ipxeDir, name), randomBytes(512));
  writeFileSync(join(dir, 'localapi.pw'), 'kairos-pw\n', { mode: 0o600 });
  const bundle = join(dir, 'content.tar.zst');
  writeFileSync(bundle, randomBytes(o.bundleBytes));
  const config = join(dir, 'rackboot.yaml');
  writeFileSync(
    config,
    stringify({
      advertiseAddress: '127.0.0.1',
      dataDir,
      http: { listen: '127.0.0.1', port: 0 },
      tftp: { enabled: false },
      dhcp: { mode: 'off' },
      boot: { ipxeDir },
      log: { level: 'info' },
      enrollment: { localApiPort: rack.port, passwordFile: join(dir, 'localapi.pw'), pollMs: 100 },
    }),
  );
  const store = openSqliteStore(join(dataDir, 'rackboot.db'));
  const names: string[] = [];
  try {
    for (const h of rack.hosts) {
      const n = normalizeMachineInput({ name: `${o.namePrefix}${h.opts.hostName}`, macs: [`${o.macPrefix}:${h.address.split('.')[3]!.padStart(2, '0')}`], network: { ip: h.address, prefix: 8, hostname: h.opts.hostName } });
      if (!n.ok) throw new Error(JSON.stringify(n.issues));
      names.push((await store.machines.create({ ...n.machine, state: 'installed' })).name);
    }
  } finally {
    await store.close();
  }
  return { config, dataDir, bundle, names };
}

/** JSON calls with the admin token to the API of the child running now. */
export function childApi(api: () => string, dataDir: string): (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }> {
  return async (method, path, body) => {
    const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
    const res = await fetch(`${api()}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
}
