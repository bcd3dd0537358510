import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN_FILE } from '../../server/access/api-tokens.js';
import { loadOrCreateSecret, MachineTokens } from '../../server/boot/machine-tokens.js';
import { validateConfig } from '../../server/config/load.js';
import { startService, type RunningService } from '../../server/service.js';

// The API over TLS on loopback: by default with a certificate from the CA rackboot creates at first
// start, or with the operator's own; boot paths stay on plain HTTP.

const work = mkdtempSync(join(tmpdir(), 'rb-https-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const ipxe = join(work, 'ipxe');
mkdirSync(ipxe, { recursive: true });
for (const n of ['undionly.kpxe', 'snponly.efi', 'ipxe.efi']) writeFileSync(join(ipxe, n), Buffer.alloc(2048, 3));

async function start(dataDir: string, extra: Record<string, unknown> = {}): Promise<RunningService> {
  const r = validateConfig({ advertiseAddress: '127.0.0.1', dataDir, http: { listen: '127.0.0.1', port: 0 }, https: { listen: '127.0.0.1', port: 0 }, tftp: { enabled: false }, dhcp: { mode: 'off' }, boot: { ipxeDir: ipxe }, ...extra }, work);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const svc = await startService(r.config, pino({ level: 'silent' }));
  expect(svc.problems).toEqual([]);
  return svc;
}

const portOf = (s: { address(): unknown }) => (s.address() as { port: number }).port;

function get(url: string, opts: { ca?: string; token?: string; servername?: string }): Promise<{ status: number; body: string; peer: X509Certificate }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { agent: false, ...(opts.ca ? { ca: opts.ca } : {}), ...(opts.servername ? { servername: opts.servername } : {}), headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {} }, (res) => {
      // Read now: after the body the socket goes back to the agent's pool.
      const peer = new X509Certificate((res.socket as TLSSocket).getPeerCertificate().raw);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, peer }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS for the API', () => {
  it('issues a server certificate from its own CA at first start, keeps both across restarts, and serves the API with them', async () => {
    const dataDir = join(work, 'ca-data');
    let svc = await start(dataDir);
    let caPem: string;
    let serverFingerprint: string;
    try {
      const tls = join(dataDir, 'tls');
      caPem = readFileSync(join(tls, 'ca.crt'), 'utf8');
      expect(statSync(join(tls, 'ca.key')).mode & 0o777).toBe(0o600);
      expect(statSync(join(tls, 'server.key')).mode & 0o777).toBe(0o600);
      const ca = new X509Certificate(caPem);
      expect(ca.ca).toBe(true);
      const token = readFileSync(join(dataDir, ADMIN_TOKEN_FILE), 'utf8').trim();
      const base = `https://127.0.0.1:${portOf(svc.https!)}`;
      // Verified against the CA (Node checks the chain and that 127.0.0.1 is in the certificate).
      const r = await get(`${base}/api/v1/machines`, { ca: caPem, token });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ total: 0 });
      expect(r.peer.checkIssued(ca)).toBe(true);
      expect(r.peer.verify(ca.publicKey)).toBe(true);
      expect(r.peer.ca).toBe(false);
      expect(r.peer.subjectAltName).toContain('IP Address:127.0.0.1');
      expect(r.peer.subjectAltName).toContain('DNS:localhost');
      expect((await get(`https://localhost:${portOf(svc.https!)}/healthz`, { ca: caPem })).status).toBe(200);
      serverFingerprint = r.peer.fingerprint256;
      // The gate is the same on this listener.
      expect((await get(`${base}/api/v1/machines`, { ca: caPem })).status).toBe(401);
      // Without trusting the CA the certificate is refused.
      await expect(get(`${base}/healthz`, {})).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    } finally {
      await svc.stop();
    }
    svc = await start(dataDir);
    try {
      expect(readFileSync(join(dataDir, 'tls', 'ca.crt'), 'utf8')).toBe(caPem);
      const r = await get(`https://127.0.0.1:${portOf(svc.https!)}/healthz`, { ca: caPem });
      expect(r.peer.fingerprint256).toBe(serverFingerprint);
    } finally {
      await svc.stop();
    }
    // A new name for the host gets a new certificate from the same CA.
    svc = await start(dataDir, { https: { listen: '127.0.0.1', port: 0, names: ['rack-mgmt.example.test'] } });
    try {
      const r = await get(`https://127.0.0.1:${portOf(svc.https!)}/healthz`, { ca: caPem });
      expect(r.peer.fingerprint256).not.toBe(serverFingerprint);
      expect(r.peer.subjectAltName).toContain('DNS:rack-mgmt.example.test');
      expect(r.peer.checkIssued(new X509Certificate(caPem))).toBe(true);
    } finally {
      await svc.stop();
    }
  }, 120_000);

  it("serves an operator's certificate and key (made with openssl) as they are", async () => {
    const dir = join(work, 'operator');
    mkdirSync(dir, { recursive: true });
    const certFile = join(dir, 'api.crt');
    const keyFile = join(dir, 'api.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '30', '-subj', '/CN=rackboot.example.test', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const svc = await start(join(work, 'operator-data'), { https: { listen: '127.0.0.1', port: 0, certFile, keyFile } });
    try {
      const pem = readFileSync(certFile, 'utf8');
      const r = await get(`https://127.0.0.1:${portOf(svc.https!)}/healthz`, { ca: pem });
      expect(r.status).toBe(200);
      expect(r.peer.fingerprint256).toBe(new X509Certificate(pem).fingerprint256);
    } finally {
      await svc.stop();
    }
    // A key that does not belong to the certificate is a clear start-up problem, not a crash.
    const otherKey = join(dir, 'other.key');
    execFileSync('openssl', ['genrsa', '-out', otherKey, '2048'], { stdio: 'ignore' });
    const r = validateConfig({ advertiseAddress: '127.0.0.1', dataDir: join(work, 'bad-data'), http: { listen: '127.0.0.1', port: 0 }, https: { listen: '127.0.0.1', port: 0, certFile, keyFile: otherKey }, tftp: { enabled: false }, dhcp: { mode: 'off' }, boot: { ipxeDir: ipxe } }, work);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    const bad = await startService(r.config, pino({ level: 'silent' }));
    try {
      expect(bad.https).toBeNull();
      expect(bad.problems.join('\n')).toContain('is not the private key of the certificate');
      expect(bad.http).not.toBeNull();
    } finally {
      await bad.stop();
    }
    expect(validateConfig({ https: { certFile } , advertiseAddress: '127.0.0.1' }, work)).toMatchObject({ ok: false, issues: [{ path: 'https.keyFile' }] });
  }, 120_000);

  it('keeps boot paths on plain HTTP and refuses the API there to other hosts unless allowed', async () => {
    const dataDir = join(work, 'plain-data');
    const svc = await start(dataDir, { api: { plainHttp: 'none' } });
    try {
      const token = readFileSync(join(dataDir, ADMIN_TOKEN_FILE), 'utf8').trim();
      const plain = `http://127.0.0.1:${portOf(svc.http!.server)}`;
      const created = await svc.store.machines.create({ name: 'm1', macs: ['02:00:00:00:00:01'], smbiosUuid: null, serial: null, arch: null, firmware: null, role: null, rack: null, tags: [], network: null, disks: [], profile: null, bmc: null, maas: null, state: 'ready', discovery: null });
      const tokens = new MachineTokens(await loadOrCreateSecret(dataDir));
      const boot = await fetch(`${plain}/boot/${created.id}/${tokens.tokenFor(created)}/ipxe/ipxe.efi`);
      expect(boot.status).toBe(200);
      const refused = await fetch(`${plain}/api/v1/machines`, { headers: { authorization: `Bearer ${token}` } });
      expect(refused.status).toBe(403);
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(((await refused.json()) as { detail: string }).detail).toContain('HTTPS');
      const ca = readFileSync(join(dataDir, 'tls', 'ca.crt'), 'utf8');
      expect((await get(`https://127.0.0.1:${portOf(svc.https!)}/api/v1/machines`, { ca, token })).status).toBe(200);
    } finally {
      await svc.stop();
    }
  }, 120_000);
});
