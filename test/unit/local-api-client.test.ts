// The Local Management API client against the appliance stand-in (real HTTPS on loopback).

import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalApiClient, type LocalApiClientOptions, type V1ClusterConfiguration } from '../../local-api/index.js';
import { STANDIN_OPERATIONS, startStandinRack, type StandinHost, type StandinRack } from '../support/local-api-standin/index.js';

let rack: StandinRack;
let dir: string;
const clients: LocalApiClient[] = [];

beforeAll(async () => {
  rack = await startStandinRack(3, { base: 41 });
  dir = mkdtempSync(join(tmpdir(), 'rb-localapi-'));
});
afterAll(async () => {
  await rack.stop();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

function fp(h: StandinHost): string {
  return new X509Certificate(h.certPem).fingerprint256;
}

/** A client whose sleeps move the stand-in's clock instead of waiting. */
function client(h: StandinHost, o: Partial<LocalApiClientOptions> = {}): { c: LocalApiClient; sleeps: number[] } {
  const sleeps: number[] = [];
  const r = LocalApiClient.create({
    host: h.address,
    port: h.port,
    username: 'kairos',
    password: 'kairos-pw',
    tls: { pinSha256: fp(h) },
    sleep: async (ms) => {
      sleeps.push(ms);
      rack.clock.advance(ms);
    },
    random: () => 0.5,
    ...o,
  });
  if (!r.ok) throw new Error(r.error.message);
  clients.push(r.value);
  return { c: r.value, sleeps };
}

describe('swagger conformance', () => {
  it('serves exactly the operations of the swagger subset, by method, path and operationId', () => {
    const fixture = JSON.parse(readFileSync(new URL('../fixtures/local-api/emc-api-subset.json', import.meta.url), 'utf8')) as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    for (const op of STANDIN_OPERATIONS) {
      expect(fixture.paths[op.path]?.[op.method.toLowerCase()]?.operationId, `${op.method} ${op.path}`).toBe(op.operationId);
    }
  });
});

describe('TLS trust', () => {
  it('refuses to build a client that would trust nothing or everything', () => {
    const base = { host: '127.0.0.41', username: 'u', password: 'p' };
    const none = LocalApiClient.create({ ...base, tls: {} });
    expect(none.ok).toBe(false);
    if (!none.ok) expect(none.error.code).toBe('RB_LOCALAPI_BAD_CONFIG');
    const bad = LocalApiClient.create({ ...base, tls: { pinSha256: 'abcd' } });
    expect(bad.ok).toBe(false);
  });

  it('pins the first certificate seen and reports it once', async () => {
    const h = rack.hosts[0]!;
    const seen: string[] = [];
    const { c } = client(h, { tls: { trustOnFirstUse: true, onPinned: (f) => seen.push(f) } });
    expect((await c.ping()).ok).toBe(true);
    expect((await c.edgeHost()).ok).toBe(true);
    expect(seen).toEqual([fp(h)]);
    expect(c.pinnedFingerprint()).toBe(fp(h));
  });

  it('sends no credential to a host whose certificate does not match the pin', async () => {
    const [a, b] = [rack.hosts[0]!, rack.hosts[1]!];
    const before = b.count('V1UserLogin');
    const { c } = client(b, { tls: { pinSha256: fp(a) } });
    const r = await c.login();
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('RB_LOCALAPI_TLS_PIN');
    expect(b.count('V1UserLogin')).toBe(before);
  });
});

describe('login', () => {
  it('backs off under 429 with the Retry-After the host sends', async () => {
    const h = rack.hosts[2]!;
    h.failNext('V1UserLogin', { status: 429, retryAfterSec: 3, times: 2, body: { code: 'TooManyRequests', message: 'slow down' } });
    const before = h.count('V1UserLogin');
    const { c, sleeps } = client(h);
    const r = await c.login();
    expect(r.ok).toBe(true);
    expect(h.count('V1UserLogin') - before).toBe(3);
    expect(sleeps).toEqual([3000, 3000]);
  });

  it('backs off exponentially when the host rate-limits logins itself', async () => {
    const h = rack.hosts[2]!;
    const { c } = client(h);
    for (let i = 0; i < 12; i++) expect((await c.login()).ok).toBe(true);
  });

  it('reports bad credentials as UNAUTHORIZED without retrying', async () => {
    const h = rack.hosts[1]!;
    const before = h.count('V1UserLogin');
    const { c } = client(h, { password: 'wrong' });
    const r = await c.edgeHost();
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('RB_LOCALAPI_UNAUTHORIZED');
    expect(h.count('V1UserLogin') - before).toBe(1);
  });

  it('logs in again once the JWT has expired (24 h extended session)', async () => {
    const h = rack.hosts[1]!;
    const { c } = client(h);
    expect((await c.edgeHost()).ok).toBe(true);
    const before = h.count('V1UserLogin');
    rack.clock.advance(25 * 3600_000);
    const r = await c.edgeHost();
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.metadata?.name).toBe('edge-2');
    expect(h.count('V1UserLogin') - before).toBe(1);
  });
});

describe('link, upload, sync, cluster', () => {
  let bundle: string;
  let bundleSha: string;
  beforeAll(() => {
    const data = randomBytes(5 * 1024 * 1024 + 123);
    bundle = join(dir, 'core-content.tar.zst');
    writeFileSync(bundle, data);
    bundleSha = createHash('sha256').update(data).digest('hex');
  });

  it('an expired link token is refused and a fresh one links the follower', async () => {
    const [leader, follower] = [rack.hosts[0]!, rack.hosts[1]!];
    const L = client(leader).c;
    const F = client(follower).c;
    const t1 = await L.generateLinkToken();
    expect(t1.ok).toBe(true);
    if (!t1.ok) return;
    expect(t1.value.remainingTime).toBe(120);
    rack.clock.advance(121_000);
    const late = await F.applyLinkToken(t1.value);
    expect(late.ok).toBe(false);
    if (!late.ok) {
      expect(late.error.code).toBe('RB_LOCALAPI_BAD_REQUEST');
      expect(late.error.apiCode).toBe('LinkTokenExpired');
    }
    const notLinked = await F.linkStatus();
    expect(!notLinked.ok && notLinked.error.code).toBe('RB_LOCALAPI_NOT_FOUND');
    const t2 = await L.generateLinkToken();
    expect(t2.ok && t2.value.token !== t1.value.token).toBe(true);
    if (!t2.ok) return;
    const applied = await F.applyLinkToken(t2.value);
    expect(applied.ok && applied.value.status).toBe('InProgress');
    rack.clock.advance(1000);
    const st = await L.linkStatus();
    expect(st.ok).toBe(true);
    if (st.ok) {
      expect(st.value.status).toBe('Completed');
      expect(st.value.peers?.map((p) => p.ip).sort()).toEqual([leader.address, follower.address].sort());
    }
  });

  it('streams the bundle with progress, retrying the whole upload after a dropped connection', async () => {
    const leader = rack.hosts[0]!;
    leader.failNext('V1ContentUpload', { status: 0, dropAfterBytes: 1 << 20 });
    const before = leader.count('V1ContentUpload');
    const { c } = client(leader);
    const progress: { attempt: number; sentBytes: number }[] = [];
    const r = await c.uploadContent(bundle, { onProgress: (p) => progress.push(p) });
    expect(r.ok).toBe(true);
    expect(leader.count('V1ContentUpload') - before).toBe(2);
    const last = progress.at(-1)!;
    expect(last).toMatchObject({ attempt: 2, sentBytes: 5 * 1024 * 1024 + 123, totalBytes: 5 * 1024 * 1024 + 123 });
    const second = progress.filter((p) => p.attempt === 2).map((p) => p.sentBytes);
    expect(second).toEqual([...second].sort((a, b) => a - b));
    const details = await c.uploadedContent();
    expect(details.ok && details.value).toMatchObject({ fileName: 'core-content.tar.zst', sha256Hash: bundleSha, sizeInBytes: 5 * 1024 * 1024 + 123 });
  });

  it('gives up after the attempt budget and says why', async () => {
    const leader = rack.hosts[0]!;
    leader.failNext('V1ContentUpload', { status: 500, times: 2, body: { code: 'DiskFull', message: 'no space left' } });
    const { c } = client(leader);
    const r = await c.uploadContent(bundle, { attempts: 2 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: 'RB_LOCALAPI_SERVER_ERROR', apiCode: 'DiskFull', attempts: 2 });
    const missing = await c.uploadContent(join(dir, 'nope.tar'));
    expect(!missing.ok && missing.error.code).toBe('RB_LOCALAPI_LOCAL_IO');
    // Put the good bundle back for what follows.
    expect((await c.uploadContent(bundle)).ok).toBe(true);
  });

  it('reports sync pending, then completed', async () => {
    const { c } = client(rack.hosts[0]!);
    const s1 = await c.syncStatus();
    expect(s1.ok && s1.value.pendingItems?.every((i) => i.status === 'pending')).toBe(true);
    rack.clock.advance(1000);
    const s2 = await c.syncStatus();
    expect(s2.ok && s2.value.pendingItems?.length).toBeGreaterThan(0);
    expect(s2.ok && s2.value.pendingItems?.every((i) => i.status === 'completed')).toBe(true);
  });

  it('creates the cluster once and follows it to Running and Healthy', async () => {
    const [leader, follower] = [rack.hosts[0]!, rack.hosts[1]!];
    const { c } = client(leader);
    expect(await c.clusterDetails()).toEqual({ ok: true, value: null });
    const config: V1ClusterConfiguration = {
      metadata: { name: 'mgmt' },
      spec: {
        cloudConfig: {
          spec: {
            clusterConfig: { controlPlaneEndpoint: { type: 'VIP', host: '192.0.2.100' }, ntpServers: ['192.0.2.1'], sshKeys: ['ssh-ed25519 AAAA test'] },
            machinePoolConfig: [
              {
                name: 'control-plane',
                isControlPlane: true,
                useControlPlaneAsWorker: true,
                hosts: [leader, follower].map((h) => ({ hostUid: h.uid, hostName: h.opts.hostName, hostAddress: h.address })),
              },
            ],
          },
        },
        profileVariables: [{ name: 'domain', value: 'example.test' }],
      },
    };
    const created = await c.createCluster(config);
    expect(created.ok).toBe(true);
    const d1 = await c.clusterDetails();
    expect(d1.ok && d1.value?.status?.clusterState).toBe('Provisioning');
    expect(d1.ok && d1.value?.status?.kubeconfig).toBeUndefined();
    rack.clock.advance(1600);
    const d2 = await c.clusterDetails();
    expect(d2.ok && d2.value?.status).toMatchObject({ clusterState: 'Running', health: { status: 'Unhealthy' } });
    rack.clock.advance(600);
    const d3 = await c.clusterDetails();
    expect(d3.ok && d3.value?.status).toMatchObject({ clusterState: 'Running', health: { status: 'Healthy' } });
    expect(d3.ok && d3.value?.status?.kubeconfig).toContain('kind: Config');
    expect(d3.ok && d3.value?.status?.nodePools?.[0]?.nodes?.map((n) => n.nodeName)).toEqual(['edge-1', 'edge-2']);
    const ev = await c.lifecycleEvents();
    expect(ev.ok && ev.value.clusterEvents?.map((e) => e.type)).toEqual(['ClusterCreateAccepted', 'ControlPlaneInitialized', 'NodesJoined', 'ClusterRunning', 'ClusterHealthy']);

    const before = leader.count('v1CreateCluster');
    const again = await c.createCluster(config);
    expect(!again.ok && again.error.apiCode).toBe('ClusterExists');
    expect(leader.count('v1CreateCluster') - before).toBe(1);
  });

  it('refuses a cluster configuration without the swagger\'s required parts before sending it', async () => {
    const leader = rack.hosts[0]!;
    const before = leader.count('v1CreateCluster');
    const { c } = client(leader);
    const r = await c.createCluster({ metadata: { name: 'x' } } as unknown as V1ClusterConfiguration);
    expect(!r.ok && r.error.code).toBe('RB_LOCALAPI_BAD_CONFIG');
    expect(leader.count('v1CreateCluster')).toBe(before);
  });
});

describe('transport', () => {
  it('retries a GET through 5xx and a host that is not up yet', async () => {
    const h = rack.hosts[2]!;
    h.failNext('v1EdgeHostInfo', { status: 502, times: 2 });
    const { c, sleeps } = client(h);
    const r = await c.edgeHost();
    expect(r.ok).toBe(true);
    expect(sleeps.length).toBe(2);
    await h.stop();
    const down = await client(h, { retries: 1 }).c.ping();
    expect(!down.ok && down.error).toMatchObject({ code: 'RB_LOCALAPI_NETWORK', cause: 'ECONNREFUSED', attempts: 2 });
    await h.start();
  });

  it('flags a 2xx body that does not have the swagger shape', async () => {
    const h = rack.hosts[2]!;
    h.failNext('V1UserLogin', { status: 200, body: { Token: 'not-an-object' } });
    const r = await client(h).c.login();
    expect(!r.ok && r.error.code).toBe('RB_LOCALAPI_BAD_RESPONSE');
  });
});
