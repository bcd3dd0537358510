// Debian's docker-registry (distribution) on a loopback address, plain HTTP or HTTPS with a
// self-signed certificate made by openssl, and OCI image-layout archives made with tar.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const DOCKER_REGISTRY = '/usr/bin/docker-registry';
export const haveDockerRegistry = existsSync(DOCKER_REGISTRY) && existsSync('/usr/bin/openssl');
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, host, () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface RunningRegistry {
  url: string;
  /** Set for HTTPS: the certificate and its SHA-256 fingerprint (`AB:CD:…`). */
  certPem?: string;
  fingerprint?: string;
  /** GET with the registry's certificate trusted. */
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>;
  stop(): Promise<void>;
}

export async function startDockerRegistry(dir: string, o: { host?: string; port?: number; tls?: boolean; htpasswd?: string } = {}): Promise<RunningRegistry> {
  const host = o.host ?? '127.0.0.1';
  const port = o.port ?? (await freePort(host));
  mkdirSync(dir, { recursive: true });
  let tls = '';
  let certPem: string | undefined;
  if (o.tls === true) {
    const cert = join(dir, 'registry.crt');
    const key = join(dir, 'registry.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=zot-standin', '-addext', `subjectAltName=IP:${host}`], { stdio: 'ignore' });
    certPem = readFileSync(cert, 'utf8');
    tls = `  tls:\n    certificate: ${cert}\n    key: ${key}\n`;
  }
  const auth = o.htpasswd === undefined ? '' : `auth:\n  htpasswd:\n    realm: rackboot-test\n    path: ${o.htpasswd}\n`;
  writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'store')}\nhttp:\n  addr: ${host}:${port}\n${tls}${auth}`);
  const proc: ChildProcess = spawn(DOCKER_REGISTRY, ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  const url = `${o.tls === true ? 'https' : 'http'}://${host}:${port}`;
  const agent = certPem === undefined ? undefined : new https.Agent({ ca: certPem });
  const get: RunningRegistry['get'] = (path, headers = {}) =>
    new Promise((resolve, reject) => {
      const req = (url.startsWith('https') ? https : http).get(`${url}${path}`, { headers, ...(agent === undefined ? {} : { agent }) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  for (let i = 0; ; i++) {
    const status = await get('/v2/').then((r) => r.status, () => 0);
    if (status === 200 || status === 401) break;
    if (i > 150 || proc.exitCode !== null) throw new Error(`docker-registry did not start on ${url} (last status ${status})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    ...(certPem === undefined ? {} : { certPem, fingerprint: new X509Certificate(certPem).fingerprint256 }),
    get,
    async stop() {
      agent?.destroy();
      if (proc.exitCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    },
  };
}

export interface OciArchive {
  path: string;
  /** tag → manifest digest, as index.json lists them. */
  manifests: Map<string, string>;
  /** Every blob (manifests included) by digest. */
  blobs: Map<string, Buffer>;
}

/**
 * An OCI image layout with one image per tag (config + two layers, one shared by all), as a tar.
 * `ownBytes` sizes a tag's own layer (default 50 000).
 */
export function makeOciArchive(dir: string, tags: string[], ownBytes: Record<string, number> = {}): OciArchive {
  const layout = join(dir, 'layout');
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  const blobs = new Map<string, Buffer>();
  const put = (b: Buffer) => {
    const d = sha256(b);
    blobs.set(d, b);
    writeFileSync(join(layout, 'blobs', 'sha256', d.slice(7)), b);
    return d;
  };
  const shared = randomBytes(300_000);
  const manifests = new Map<string, string>();
  const index: object[] = [];
  for (const tag of tags) {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, tag }));
    const own = randomBytes(ownBytes[tag] ?? 50_000);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: put(config), size: config.length },
        layers: [shared, own].map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: put(l), size: l.length })),
      }),
    );
    const digest = put(manifest);
    manifests.set(tag, digest);
    index.push({ mediaType: OCI_MANIFEST, digest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } });
  }
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: index }));
  const path = join(dir, 'packs.tar');
  execFileSync('tar', ['-cf', path, '-C', layout, 'oci-layout', 'index.json', 'blobs']);
  return { path, manifests, blobs };
}

/** Reads every tag's manifest and each of its blobs back from the registry and checks every digest. */
export async function readBackDigests(reg: RunningRegistry, repository: string, archive: OciArchive, authz?: string): Promise<string[]> {
  const problems: string[] = [];
  const headers = { accept: OCI_MANIFEST, ...(authz === undefined ? {} : { authorization: authz }) };
  for (const [tag, want] of archive.manifests) {
    const m = await reg.get(`/v2/${repository}/manifests/${tag}`, headers);
    if (m.status !== 200) {
      problems.push(`${tag}: manifest HTTP ${m.status}`);
      continue;
    }
    if (sha256(m.body) !== want) problems.push(`${tag}: manifest digest ${sha256(m.body)} != ${want}`);
    if (m.headers['docker-content-digest'] !== want) problems.push(`${tag}: Docker-Content-Digest ${String(m.headers['docker-content-digest'])} != ${want}`);
    const parsed = JSON.parse(m.body.toString()) as { config: { digest: string }; layers: { digest: string }[] };
    for (const d of [parsed.config.digest, ...parsed.layers.map((l) => l.digest)]) {
      const b = await reg.get(`/v2/${repository}/blobs/${d}`, authz === undefined ? {} : { authorization: authz });
      if (b.status !== 200) problems.push(`${tag}: blob ${d} HTTP ${b.status}`);
      else if (sha256(b.body) !== d || !b.body.equals(archive.blobs.get(d)!)) problems.push(`${tag}: blob ${d} read back different`);
    }
  }
  return problems;
}
