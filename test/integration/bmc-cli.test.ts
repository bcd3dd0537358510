import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../server/config/load.js';
import { startService } from '../../server/service.js';
import { RedfishFixtureServer } from '../support/redfish-fixture-server.js';
import { testPki } from '../support/redfish-harness.js';

// `rackboot bmc add|provision|list` against a running service and an HTTPS Redfish fixture BMC.

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TSX = join(REPO, 'node_modules/.bin/tsx');
const MAIN = join(REPO, 'server/cli/main.ts');
const work = mkdtempSync(join(tmpdir(), 'rb-bmc-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const PASSWORD = 'cli-Secret-pw-42';

function run(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const c = spawn(TSX, [MAIN, ...args], { cwd: work, env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('rackboot bmc', () => {
  it('registers a machine by its BMC, provisions it by name, and lists the BMC', async () => {
    const pki = testPki();
    const bmc = await RedfishFixtureServer.start({ fixture: 'dmtf-rackmount1', username: 'admin', password: PASSWORD, tls: { certPem: pki.bmc.certPem, keyPem: pki.bmc.keyPem } });
    const dataDir = join(work, 'data');
    const cfgFile = join(work, 'rackboot.yaml');
    writeFileSync(cfgFile, `advertiseAddress: 127.0.0.1\ndataDir: ${dataDir}\nhttp:\n  listen: 127.0.0.1\n  port: 0\nhttps:\n  listen: 127.0.0.1\n  port: 0\ntftp:\n  enabled: false\ndhcp:\n  mode: off\nprofiles:\n  pxe:\n    kernel: k\n`);
    const caFile = join(work, 'ca.pem');
    writeFileSync(caFile, pki.ca.certPem);
    const svc = await startService(await loadConfigFile(cfgFile), pino({ level: 'silent' }));
    try {
      expect(statSync(join(dataDir, 'secrets', 'bmc-credentials.key')).mode & 0o777).toBe(0o600);
      const server = `http://127.0.0.1:${(svc.http!.server.address() as { port: number }).port}`;
      const common = ['--server', server, '--config', cfgFile];

      const noPw = await run(['bmc', 'add', bmc.url, '--username', 'admin', '--tofu', ...common]);
      expect(noPw.code).toBe(2);
      expect(noPw.err).toContain('RACKBOOT_BMC_PASSWORD');

      const add = await run(['bmc', 'add', bmc.url, '--username', 'admin', '--ca-file', caFile, '--name', 'cp-7', '--profile', 'pxe', ...common], { RACKBOOT_BMC_PASSWORD: PASSWORD });
      expect(add.code, add.err).toBe(0);
      expect(add.out).toMatch(/^cp-7 \([0-9a-f-]{36}\) created: \d+ MAC\(s\), .*system 437XR1138R2, TLS ca\n$/);

      const prov = await run(['bmc', 'provision', 'cp-7', '--method', 'pxe', ...common]);
      expect(prov.code, prov.err).toBe(0);
      expect(prov.out).toBe(`cp-7: queued (pxe via ${bmc.url})\n`);
      await svc.provisioner.idle();
      const m = (await svc.store.machines.findByName('cp-7'))!;
      expect(m.state, m.stateReason ?? '').toBe('provisioning');

      const again = await run(['bmc', 'provision', '--rack', 'nowhere', ...common]);
      expect(again.code).toBe(3);

      const list = await run(['bmc', 'list', ...common]);
      expect(list.out).toBe(`${m.id}  ${bmc.url}  system 437XR1138R2  generic  TLS ca\n`);
      for (const r of [add, prov, list]) expect(r.out + r.err).not.toContain(PASSWORD);
    } finally {
      await svc.stop();
      await bmc.close();
    }
  }, 120_000);
});
