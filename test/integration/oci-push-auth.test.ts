// Pack-bundle push through registry auth, for real: Debian's docker-registry with an htpasswd file
// (Basic) and with token auth (Bearer) whose token server runs here on loopback and signs ES256 JWTs
// with a key whose self-signed certificate (made by openssl) is the registry's rootcertbundle.
// The htpasswd fixture holds a bcrypt hash (cost 4: the registry checks it on every request) of
// the password 'pack-secret' for user 'pusher'.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushOciArchive } from '../../server/packs/registry-push.js';

const REGISTRY = '/usr/bin/docker-registry';
const have = existsSync(REGISTRY) && existsSync('/usr/bin/openssl');
if (!have && process.env.CI) throw new Error('docker-registry or openssl is missing: run scripts/install-deps.sh test');

const HTPASSWD = fileURLToPath(new URL('../fixtures/packs/htpasswd', import.meta.url));
const USER = 'pusher';
const PASSWORD = 'pack-secret';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');
const silent = pino({ level: 'silent' });

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A one-image OCI layout tar; returns its path and the manifest digest. */
function makeArchive(dir: string): { archive: string; manifestDigest: string; blobs: Map<string, Buffer> } {
  const layout = join(dir, 'layout');
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  const blobs = new Map<string, Buffer>();
  const put = (b: Buffer) => {
    const d = sha(b);
    blobs.set(d, b);
    writeFileSync(join(layout, 'blobs', 'sha256', d.slice(7)), b);
    return d;
  };
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const layer = randomBytes(200_000);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: put(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: put(layer), size: layer.length }],
    }),
  );
  const manifestDigest = put(manifest);
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MANIFEST, digest: manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': '2.0.0' } }] }),
  );
  const archive = join(dir, 'pack.tar');
  execFileSync('tar', ['-cf', archive, '-C', layout, 'oci-layout', 'index.json', 'blobs']);
  return { archive, manifestDigest, blobs };
}

async function startRegistry(dir: string, port: number, auth: string): Promise<ChildProcess> {
  writeFileSync(
    join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'store')}\nhttp:\n  addr: 127.0.0.1:${port}\nauth:\n${auth}`,
  );
  const proc = spawn(REGISTRY, ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    // Up means it answers /v2/, with the 401 challenge since auth is on.
    const status = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status, () => 0);
    if (status === 401) return proc;
    if (i > 150 || proc.exitCode !== null) throw new Error(`docker-registry did not start (last status ${status})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(proc: ChildProcess | undefined): Promise<void> {
  if (proc === undefined || proc.exitCode !== null) return;
  const gone = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await gone;
}

/** Reads the manifest and each blob back with the given Authorization and checks every digest. */
async function readBack(registry: string, repo: string, authz: string, manifestDigest: string, blobs: Map<string, Buffer>): Promise<void> {
  const m = await fetch(`${registry}/v2/${repo}/manifests/2.0.0`, { headers: { accept: MANIFEST, authorization: authz } });
  expect(m.status).toBe(200);
  const body = Buffer.from(await m.arrayBuffer());
  expect(sha(body)).toBe(manifestDigest);
  expect(m.headers.get('docker-content-digest')).toBe(manifestDigest);
  const parsed = JSON.parse(body.toString()) as { config: { digest: string }; layers: { digest: string }[] };
  for (const d of [parsed.config.digest, ...parsed.layers.map((l) => l.digest)]) {
    const b = await fetch(`${registry}/v2/${repo}/blobs/${d}`, { headers: { authorization: authz } });
    expect(b.status).toBe(200);
    const data = Buffer.from(await b.arrayBuffer());
    expect(sha(data)).toBe(d);
    expect(data.equals(blobs.get(d)!)).toBe(true);
  }
}

describe.skipIf(!have)('OCI push with Basic auth (htpasswd)', () => {
  let dir: string;
  let proc: ChildProcess | undefined;
  let registry: string;
  let pack: ReturnType<typeof makeArchive>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-oci-basic-'));
    pack = makeArchive(dir);
    const port = await freePort();
    registry = `http://127.0.0.1:${port}`;
    proc = await startRegistry(dir, port, `  htpasswd:\n    realm: rackboot-test\n    path: ${HTPASSWD}\n`);
  }, 60_000);

  afterAll(async () => {
    await stop(proc);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('without credentials, fails with the HTTP 401 and writes nothing', async () => {
    const r = await pushOciArchive(pack.archive, { registry, repository: 'packs/basic' }, silent);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/401/);
  });

  it('with a wrong password, fails with a clear error that does not contain the password', async () => {
    const r = await pushOciArchive(pack.archive, { registry, repository: 'packs/basic', credentials: { username: USER, password: 'not-the-password' } }, silent);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toMatch(/401/);
      expect(r.error).not.toContain('not-the-password');
    }
    const authz = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
    const m = await fetch(`${registry}/v2/packs/basic/manifests/2.0.0`, { headers: { accept: MANIFEST, authorization: authz } });
    expect(m.status).toBe(404);
  });

  it('with the right credentials, pushes; manifest and blobs read back with their digests', async () => {
    const r = await pushOciArchive(pack.archive, { registry, repository: 'packs/basic', credentials: { username: USER, password: PASSWORD } }, silent);
    expect(r.ok, r.ok ? '' : r.error).toBe(true);
    if (r.ok) expect(r.manifests[0]!.digest).toBe(pack.manifestDigest);
    await readBack(registry, 'packs/basic', `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`, pack.manifestDigest, pack.blobs);
  });
});

describe.skipIf(!have)('OCI push with Bearer token auth', () => {
  let dir: string;
  let proc: ChildProcess | undefined;
  let tokenServer: Server;
  let registry: string;
  let pack: ReturnType<typeof makeArchive>;
  const tokenRequests: { service: string | null; scope: string | null; user: string | null }[] = [];
  let issue: (user: string, scope: string) => string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-oci-token-'));
    pack = makeArchive(dir);
    const keyPath = join(dir, 'token.key');
    const certPath = join(dir, 'token.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=rackboot test token issuer'], { stdio: 'ignore' });
    const key = createPrivateKey(readFileSync(keyPath));
    const certDer = new X509Certificate(readFileSync(certPath)).raw;

    // A JWT as distribution's token auth verifies it: ES256, x5c chaining to the rootcertbundle,
    // iss/aud matching the config, and an access claim granting the scope asked for.
    issue = (user, scope) => {
      const now = Math.floor(Date.now() / 1000);
      const [type, name, actions] = scope.split(':');
      const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] };
      const claims = {
        iss: 'rackboot-test-issuer',
        sub: user,
        aud: 'rackboot-test-registry',
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomBytes(8).toString('hex'),
        access: type === undefined || name === undefined ? [] : [{ type, name, actions: (actions ?? '').split(',').filter(Boolean) }],
      };
      const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
      const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
      return `${input}.${b64url(sig)}`;
    };

    tokenServer = createHttpServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const h = req.headers.authorization ?? '';
      const [user, pass] = h.startsWith('Basic ') ? Buffer.from(h.slice(6), 'base64').toString().split(':') : [];
      tokenRequests.push({ service: u.searchParams.get('service'), scope: u.searchParams.get('scope'), user: user ?? null });
      if (user !== USER || pass !== PASSWORD) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
        return;
      }
      const scopes = u.searchParams.getAll('scope');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: issue(user, scopes[0] ?? ''), expires_in: 300 }));
    });
    await new Promise<void>((r) => tokenServer.listen(0, '127.0.0.1', () => r()));
    const realm = `http://127.0.0.1:${(tokenServer.address() as { port: number }).port}/token`;

    const port = await freePort();
    registry = `http://127.0.0.1:${port}`;
    proc = await startRegistry(
      dir,
      port,
      `  token:\n    realm: ${realm}\n    service: rackboot-test-registry\n    issuer: rackboot-test-issuer\n    rootcertbundle: ${certPath}\n`,
    );
  }, 60_000);

  afterAll(async () => {
    await stop(proc);
    if (tokenServer !== undefined) await new Promise<void>((r) => tokenServer.close(() => r()));
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('with wrong credentials, the token server refuses and the push fails with the 401', async () => {
    const r = await pushOciArchive(pack.archive, { registry, repository: 'packs/token', credentials: { username: USER, password: 'wrong' } }, silent);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toMatch(/401/);
      expect(r.error).not.toContain('wrong');
    }
    expect(tokenRequests.some((t) => t.user === USER)).toBe(true);
  });

  it('with the right credentials, gets a token for the challenged scope, pushes, and reads back', async () => {
    tokenRequests.length = 0;
    const r = await pushOciArchive(pack.archive, { registry, repository: 'packs/token', credentials: { username: USER, password: PASSWORD } }, silent);
    expect(r.ok, r.ok ? '' : r.error).toBe(true);
    if (r.ok) expect(r.manifests[0]!.digest).toBe(pack.manifestDigest);
    // The registry's challenge named its service and the repository scope it wanted.
    expect(tokenRequests[0]).toMatchObject({ service: 'rackboot-test-registry', user: USER });
    expect(tokenRequests[0]!.scope).toMatch(/^repository:packs\/token:/);
    await readBack(registry, 'packs/token', `Bearer ${issue(USER, 'repository:packs/token:pull')}`, pack.manifestDigest, pack.blobs);
  });
});
