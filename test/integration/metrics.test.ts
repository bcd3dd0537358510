import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN_FILE, issueApiToken } from '../../server/access/api-tokens.js';
import { loadOrCreateSecret, MachineTokens } from '../../server/boot/machine-tokens.js';
import { validateConfig } from '../../server/config/load.js';
import { startService, type RunningService } from '../../server/service.js';
import { parsePromText, type PromScrape } from '../support/prom-text.js';
import { tftpGet } from '../support/tftp-client.js';

// The whole service on loopback: real DHCP, TFTP and HTTP traffic moves the counters that /metrics
// exposes, read back through a strict parser of the text format.

const dir = mkdtempSync(join(tmpdir(), 'rb-metrics-'));
let svc: RunningService;
let base: string;
let admin: string;
let viewer: string;
const dhcpPort = 20000 + Math.floor(Math.random() * 20000);
const EFI = Buffer.alloc(70_000, 7);

beforeAll(async () => {
  const ipxe = join(dir, 'ipxe');
  mkdirSync(ipxe, { recursive: true });
  for (const name of ['undionly.kpxe', 'snponly.efi']) writeFileSync(join(ipxe, name), Buffer.alloc(1000, 1));
  writeFileSync(join(ipxe, 'ipxe.efi'), EFI);
  const r = validateConfig(
    {
      advertiseAddress: '127.0.0.1',
      dataDir: join(dir, 'data'),
      http: { listen: '127.0.0.1', port: 0 },
      https: { enabled: false },
      tftp: { listen: '127.0.0.1', port: 0 },
      dhcp: { mode: 'proxy', listen: '127.0.0.1', port: dhcpPort, pxePort: dhcpPort + 1, unknownMachines: 'ignore' },
      boot: { ipxeDir: ipxe, defaultProfile: 'p' },
      profiles: { p: { kernel: 'k/vmlinuz', initrds: ['k/initrd'], cmdline: 'x' } },
      log: { level: 'fatal' },
    },
    dir,
  );
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  svc = await startService(r.config, pino({ level: 'silent' }));
  expect(svc.problems).toEqual([]);
  base = `http://127.0.0.1:${(svc.http!.server.address() as { port: number }).port}`;
  admin = readFileSync(join(dir, 'data', ADMIN_TOKEN_FILE), 'utf8').trim();
  viewer = (await issueApiToken(svc.store.apiTokens, 'prometheus', 'viewer')).secret;
}, 60_000);
afterAll(async () => {
  await svc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function scrape(): Promise<PromScrape> {
  const r = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${viewer}` } });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePromText(await r.text());
}

const api = (path: string, init: RequestInit = {}) => fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) } });

describe('/metrics', () => {
  it('needs a token like the rest of the API', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
  });

  it('declares every family with its type', async () => {
    const s = await scrape();
    expect(Object.fromEntries([...s.families].filter(([n]) => n.startsWith('rackboot_')).map(([n, f]) => [n, f.type]))).toEqual({
      rackboot_dhcp_packets_total: 'counter',
      rackboot_tftp_requests_total: 'counter',
      rackboot_tftp_sent_bytes_total: 'counter',
      rackboot_http_requests_total: 'counter',
      rackboot_http_sent_bytes_total: 'counter',
      rackboot_provisioning_step_seconds: 'histogram',
      rackboot_machines: 'gauge',
      rackboot_clusters: 'gauge',
      rackboot_external_calls_total: 'counter',
      rackboot_external_call_errors_total: 'counter',
    });
  });

  it('counts DHCP packets that arrive on the wire', async () => {
    const before = await scrape();
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    for (let i = 0; i < 3; i++) await new Promise<void>((r) => sock.send(Buffer.from('not a dhcp packet'), dhcpPort, '127.0.0.1', () => r()));
    sock.close();
    let after = before;
    for (let i = 0; i < 100 && (after.get('rackboot_dhcp_packets_total', { result: 'malformed' }) ?? 0) < 3; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await scrape();
    }
    expect(after.get('rackboot_dhcp_packets_total', { result: 'malformed' })! - before.get('rackboot_dhcp_packets_total', { result: 'malformed' })!).toBe(3);
    expect(after.get('rackboot_dhcp_packets_total', { result: 'received' })! - before.get('rackboot_dhcp_packets_total', { result: 'received' })!).toBe(3);
    expect(after.get('rackboot_dhcp_packets_total', { result: 'replied' })).toBe(0);
  });

  it('counts TFTP requests, their ends and the bytes sent', async () => {
    const port = svc.tftp!.address().port;
    const got = await tftpGet({ host: '127.0.0.1', port, filename: 'ipxe.efi', options: { blksize: '1468' } });
    expect(got.data.equals(EFI)).toBe(true);
    const denied = await tftpGet({ host: '127.0.0.1', port, filename: 'nope.efi' });
    expect(denied.error).not.toBeNull();
    const s = await scrape();
    expect(s.get('rackboot_tftp_requests_total', { result: 'request' })).toBe(2);
    expect(s.get('rackboot_tftp_requests_total', { result: 'complete' })).toBe(1);
    expect(s.get('rackboot_tftp_requests_total', { result: 'denied' })).toBe(1);
    expect(s.get('rackboot_tftp_sent_bytes_total')).toBe(EFI.length);
  });

  it('counts clusters per state', async () => {
    const m = await svc.store.machines.create({ name: 'cl-1', macs: ['02:00:00:00:00:31'], smbiosUuid: null, serial: null, arch: null, firmware: null, role: null, rack: null, tags: [], network: null, disks: [], profile: null, bmc: null, maas: null, state: 'installed', discovery: null });
    const spec = { vip: '192.0.2.31', ntpServers: [], sshKeys: [], profileVariables: [], contentBundle: '/srv/none.tar' };
    const c = await svc.store.clusters.create({ name: 'metrics-c', spec, members: [{ machineId: m.id, role: 'control-plane' }] });
    const s0 = await scrape();
    expect([s0.get('rackboot_clusters', { state: 'forming' }), s0.get('rackboot_clusters', { state: 'failed' }), s0.get('rackboot_clusters', { state: 'enrolled' })]).toEqual([1, 0, 0]);
    await svc.store.clusters.transition(c.id, ['forming'], 'failed', 'test');
    const s1 = await scrape();
    expect([s1.get('rackboot_clusters', { state: 'forming' }), s1.get('rackboot_clusters', { state: 'failed' })]).toEqual([0, 1]);
    expect(await svc.store.clusters.deleteEnded(c.id)).toBe(true);
    await svc.store.machines.delete(m.id);
    expect((await scrape()).get('rackboot_clusters', { state: 'failed' })).toBe(0);
  });

  it('counts HTTP requests by route and status, boot bytes, machines per state and step durations', async () => {
    const created = await api('/api/v1/machines', { method: 'POST', body: JSON.stringify({ name: 'm1', macs: ['02:00:00:00:00:01'] }) });
    expect(created.status).toBe(201);
    const m = (await created.json()) as { id: string; tokenGeneration: number; state: string };
    const s0 = await scrape();
    expect(s0.get('rackboot_machines', { state: m.state })).toBe(1);
    expect(s0.get('rackboot_machines', { state: 'booting-installer' })).toBe(0);
    expect(s0.get('rackboot_http_requests_total', { route: '/api/v1/machines', method: 'POST', status: '201' })).toBe(1);

    const tokens = new MachineTokens(await loadOrCreateSecret(join(dir, 'data')));
    const bootBase = `${base}/boot/${m.id}/${tokens.tokenFor(m)}`;
    const efi = await fetch(`${bootBase}/ipxe/ipxe.efi`);
    expect(Buffer.from(await efi.arrayBuffer()).length).toBe(EFI.length);
    expect((await fetch(`${bootBase}/script.ipxe`)).status).toBe(200);
    expect((await fetch(`${bootBase}/callback/install-start`, { method: 'POST' })).status).toBe(200);
    expect((await fetch(`${base}/boot/${m.id}/wrong/script.ipxe`)).status).toBe(404);

    const s = await scrape();
    expect(s.get('rackboot_http_requests_total', { route: '/boot/:id/:token/ipxe/:binary', method: 'GET', status: '200' })).toBe(1);
    expect(s.get('rackboot_http_requests_total', { route: '/boot/:id/:token/script.ipxe', method: 'GET', status: '404' })).toBe(1);
    expect(s.get('rackboot_http_sent_bytes_total', { area: 'boot' })! - (s0.get('rackboot_http_sent_bytes_total', { area: 'boot' }) ?? 0)).toBeGreaterThanOrEqual(EFI.length);
    expect(s.get('rackboot_machines', { state: 'installing' })).toBe(1);
    expect(s.get('rackboot_machines', { state: m.state })).toBe(0);
    // ready → booting-installer (script served) and booting-installer → installing (callback).
    expect(s.get('rackboot_provisioning_step_seconds_count', { step: m.state, outcome: 'ok' })).toBe(1);
    expect(s.get('rackboot_provisioning_step_seconds_count', { step: 'booting-installer', outcome: 'ok' })).toBe(1);
    expect(s.get('rackboot_provisioning_step_seconds_bucket', { step: 'booting-installer', outcome: 'ok', le: '+Inf' })).toBe(1);
    expect(s.get('rackboot_provisioning_step_seconds_sum', { step: 'booting-installer', outcome: 'ok' })).toBeGreaterThanOrEqual(0);
  });

  it('counts external calls and their errors reported by provisioning layers', async () => {
    svc.metrics.externalCall('bmc', 'power-on', true);
    svc.metrics.externalCall('bmc', 'power-on', false);
    svc.metrics.externalCall('maas', 'deploy', false);
    const s = await scrape();
    expect(s.get('rackboot_external_calls_total', { system: 'bmc', operation: 'power-on' })).toBe(2);
    expect(s.get('rackboot_external_call_errors_total', { system: 'bmc', operation: 'power-on' })).toBe(1);
    expect(s.get('rackboot_external_call_errors_total', { system: 'maas', operation: 'deploy' })).toBe(1);
  });
});
