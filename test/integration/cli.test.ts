import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { authenticateApiToken } from '../../server/access/api-tokens.js';
import { loadConfigFile } from '../../server/config/load.js';
import { openSqliteStore } from '../../server/store/sqlite/sqlite-store.js';
import { normalizeMachineInput } from '../../server/inventory/normalize.js';
import { startService } from '../../server/service.js';

// The rackboot command as an operator runs it: exit codes, config errors with key paths, and a
// `serve` that lacks the privilege for its ports yet keeps serving what it can.

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TSX = join(REPO, 'node_modules/.bin/tsx');
const MAIN = join(REPO, 'server/cli/main.ts');
const work = mkdtempSync(join(tmpdir(), 'rb-cli-'));
chmodSync(work, 0o777);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(args: string[]) {
  const r = spawnSync(TSX, [MAIN, ...args], { cwd: work, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('rackboot CLI', () => {
  it('prints usage and exits 2 without a command, 0 with --help; --help documents the exit codes', () => {
    const none = run([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: rackboot');
    const help = run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: rackboot');
    expect(help.stdout).toMatch(/^ {2}2 +usage error/m);
    const bad = run(['frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown command 'frobnicate'");
    const extra = run(['config', 'validate', 'surplus']);
    expect(extra.code).toBe(2);
  }, 120_000); // four CLI processes, each a tsx start: slow on a loaded 2-core runner

  it('validates a config file: resolved settings on success', () => {
    const f = join(work, 'good.yaml');
    writeFileSync(f, 'advertiseAddress: 192.0.2.10\ndhcp:\n  mode: full\n  subnets:\n    - cidr: 192.0.2.0/24\n');
    const r = run(['config', 'validate', '--config', f]);
    expect(r.code).toBe(0);
    const cfg = JSON.parse(r.stdout) as { publicUrl: string; dhcp: { subnets: Array<{ leaseSeconds: number }> } };
    expect(cfg.publicUrl).toBe('http://192.0.2.10:8080');
    expect(cfg.dhcp.subnets[0]?.leaseSeconds).toBe(3600);
  }, 120_000);

  it('rejects a bad config with every key path and reason, exit 2', () => {
    const f = join(work, 'bad.yaml');
    writeFileSync(f, 'dhcp:\n  mode: proxi\n  port: 70000\ntftp:\n  blocksize: 512\n');
    const r = run(['config', 'validate', '--config', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('dhcp.mode: must be one of proxy, full, off');
    expect(r.stderr).toMatch(/dhcp\.port: .*65535/);
    expect(r.stderr).toContain('tftp.blocksize: unknown key');
    const yaml = join(work, 'broken.yaml');
    writeFileSync(yaml, 'dhcp: [unclosed\n');
    const y = run(['config', 'validate', '--config', yaml]);
    expect(y.code).toBe(2);
    expect(y.stderr).toContain('not valid YAML');
  }, 120_000);

  it.skipIf(process.getuid?.() !== 0)('serve without privilege reports each privileged port with its fix and keeps HTTP serving', async () => {
    const f = join(work, 'serve.yaml');
    writeFileSync(f, `advertiseAddress: 127.0.0.1\ndataDir: ${join(work, 'data')}\nhttp:\n  listen: 127.0.0.1\n  port: 0\nhttps:\n  listen: 127.0.0.1\n  port: 0\ntftp:\n  listen: 127.0.0.1\ndhcp:\n  listen: 127.0.0.1\n`);
    const child = spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', TSX, MAIN, 'serve', '--config', f], { cwd: work });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const deadline = Date.now() + 60_000;
      while (!out.includes('rackboot is serving') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain('rackboot is serving');
      expect(out).toContain('cannot bind UDP 127.0.0.1:69 (TFTP): permission denied');
      expect(out).toContain('cannot bind UDP 127.0.0.1:67 (DHCP');
      expect(out).toContain('CAP_NET_BIND_SERVICE');
      const port = Number(/"address":"127\.0\.0\.1:(\d+)","publicUrl"/.exec(out)?.[1]);
      expect(port).toBeGreaterThan(0);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }, 90_000);
});

describe('rackboot tokens', () => {
  it('creates (secret on stdout once), lists without secrets, and revokes; bad input exits 2', async () => {
    const cfgFile = join(work, 'tokens.yaml');
    writeFileSync(cfgFile, `dataDir: ${join(work, 'tokens-data')}\n`);
    const created = run(['tokens', 'create', '--name', 'ci', '--role', 'viewer', '--config', cfgFile]);
    expect(created.code, created.stderr).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^rbt_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain("created viewer token 'ci'");
    const store = openSqliteStore(join(work, 'tokens-data', 'rackboot.db'));
    try {
      expect(await authenticateApiToken(store.apiTokens, secret)).toMatchObject({ name: 'ci', role: 'viewer' });
    } finally {
      await store.close();
    }
    const list = run(['tokens', 'list', '--config', cfgFile]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ci +viewer /m);
    expect(list.stdout).not.toContain(secret);
    expect(run(['tokens', 'create', '--name', 'ci', '--role', 'admin', '--config', cfgFile]).code).toBe(1);
    expect(run(['tokens', 'create', '--name', 'x', '--role', 'root', '--config', cfgFile]).code).toBe(2);
    expect(run(['tokens', 'create', '--role', 'admin', '--config', cfgFile]).code).toBe(2);
    expect(run(['tokens', 'revoke', 'ci', '--config', cfgFile]).code).toBe(0);
    expect(run(['tokens', 'revoke', 'ci', '--config', cfgFile]).code).toBe(1);
    const store2 = openSqliteStore(join(work, 'tokens-data', 'rackboot.db'));
    try {
      expect(await authenticateApiToken(store2.apiTokens, secret)).toBeNull();
      const audit = (await store2.audit.list({ limit: 10, offset: 0 })).items;
      expect(audit.map((e) => [e.action, e.target, e.outcome])).toEqual([
        ['tokens revoke', 'ci', 'failed'],
        ['tokens revoke', 'ci', 'ok'],
        ['tokens create', 'ci', 'ok'],
      ]);
      expect(audit.every((e) => e.actor.startsWith('cli:'))).toBe(true);
    } finally {
      await store2.close();
    }
  }, 120_000);
});

describe('rackboot provision', () => {
  it('re-provisions a machine by name through the API, and refuses during an install with exit 3', async () => {
    const dataDir = join(work, 'prov-data');
    const cfgFile = join(work, 'prov.yaml');
    writeFileSync(cfgFile, `advertiseAddress: 127.0.0.1\ndataDir: ${dataDir}\nhttp:\n  listen: 127.0.0.1\n  port: 0\nhttps:\n  listen: 127.0.0.1\n  port: 0\ntftp:\n  enabled: false\ndhcp:\n  mode: off\n`);
    const cfg = await loadConfigFile(cfgFile);
    const svc = await startService(cfg, pino({ level: 'silent' }));
    try {
      const port = (svc.http!.server.address() as { port: number }).port;
      const input = normalizeMachineInput({ name: 'cp-9', macs: ['02:00:00:00:00:99'] });
      if (!input.ok) throw new Error(JSON.stringify(input.issues));
      const m = await svc.store.machines.create(input.machine);
      await svc.store.machines.transition(m.id, ['ready'], 'installed', null);
      const run = (args: string[], env: Record<string, string> = {}) =>
        new Promise<{ code: number | null; out: string }>((resolve) => {
          const c = spawn(TSX, [MAIN, ...args], { cwd: work, env: { ...process.env, ...env } });
          let out = '';
          c.stdout.on('data', (d: Buffer) => (out += d.toString()));
          c.stderr.on('data', (d: Buffer) => (out += d.toString()));
          c.on('exit', (code) => resolve({ code, out }));
        });
      const ok = await run(['provision', 'cp-9', '--server', `http://127.0.0.1:${port}`, '--config', cfgFile]);
      expect(ok.out).toContain('cp-9: provisioning');
      expect(ok.code).toBe(0);
      expect((await svc.store.machines.get(m.id))!.tokenGeneration).toBe(2);
      await svc.store.machines.transition(m.id, ['provisioning'], 'installing', null);
      const refused = await run(['provision', m.id, '--server', `http://127.0.0.1:${port}`, '--config', cfgFile]);
      expect(refused.code).toBe(3);
      expect(refused.out).toContain('an install is already under way');
      const missing = await run(['provision', 'nope', '--server', `http://127.0.0.1:${port}`, '--config', cfgFile]);
      expect(missing.code).toBe(1);
      // Without the data directory's admin token the API refuses, and the CLI says so.
      const c = await run(['provision', m.id, '--server', `http://127.0.0.1:${port}`, '--config', cfgFile], { RACKBOOT_TOKEN: 'rbt_wrong' });
      expect(c.code).toBe(1);
      expect(c.out).toContain('provision refused (401)');
    } finally {
      await svc.stop();
    }
  }, 120_000);
});
