import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { issueApiToken } from '../../server/access/api-tokens.js';
import { bundledBootAssets } from '../../server/boot/assets-path.js';
import { BootUrls } from '../../server/boot/boot-urls.js';
import { REQUIRED_IPXE_BINARIES } from '../../server/boot/ipxe-binaries.js';
import { loadOrCreateSecret, MachineTokens } from '../../server/boot/machine-tokens.js';
import { loadIpxeTemplates } from '../../server/boot/template.js';
import { validateConfig, type ResolvedConfig } from '../../server/config/load.js';
import { ProfileUserData } from '../../server/boot/profile-user-data.js';
import { Lifecycle } from '../../server/lifecycle/lifecycle.js';
import { Metrics } from '../../server/metrics/metrics.js';
import { BlobStore } from '../../server/artifacts/blob-store.js';
import { FileHandleCache } from '../../server/http/file-handle-cache.js';
import { buildHttpApp } from '../../server/http/app.js';
import { ClusterFeed } from '../../server/enrollment/cluster-feed.js';
import { ClusterFormation } from '../../server/enrollment/formation.js';
import type { Machine } from '../../server/inventory/machine.js';
import { normalizeMachineInput } from '../../server/inventory/normalize.js';
import { openSqliteStore } from '../../server/store/sqlite/sqlite-store.js';
import type { Store, StoredEvent } from '../../server/store/types.js';
import { Timeline } from '../../server/timeline/recorder.js';
import type { BmcClientSettings } from '../../server/provisioning/bmc-connection.js';
import { BmcProvisioner } from '../../server/provisioning/bmc-provisioner.js';
import { loadOrCreateCredentialKey, type CredentialCipher } from '../../server/secrets/credential-cipher.js';
import { ProgressBoard, timedStages } from '../../server/progress/progress-board.js';

export const ADVERTISE = '10.250.0.1';

export interface HttpFixture {
  app: FastifyInstance;
  store: Store;
  cfg: ResolvedConfig;
  tokens: MachineTokens;
  urls: BootUrls;
  timeline: Timeline;
  /** The cluster repository the app uses: what it records reaches the event stream. */
  clusters: ClusterFeed;
  metrics: Metrics;
  /** Live progress the app serves and streams. */
  progress: ProgressBoard;
  lifecycle: Lifecycle;
  provisioner: BmcProvisioner;
  cipher: CredentialCipher;
  /** Temp directory holding the database, secret, artifacts and iPXE files. */
  dir: string;
  artifactsRoot: string;
  ipxeDir: string;
  /** Random contents of the fake iPXE binaries, by file name. */
  ipxeFiles: Record<string, Buffer>;
  /** Secrets of an admin and a viewer API token. */
  adminToken: string;
  viewerToken: string;
  /** The Authorization header for one of those tokens. */
  auth(role?: 'admin' | 'viewer'): { authorization: string };
  /** Every timeline event recorded since the app was built, in order. */
  events: StoredEvent[];
  /** Writes a file under the artifact root (parents created) and returns its bytes. */
  artifact(rel: string, data: Buffer | string): Buffer;
  addMachine(input: Record<string, unknown>): Promise<Machine>;
  /** The path (no scheme or host) of a machine's boot URL plus suffix, e.g. '/script.ipxe'. */
  bootPath(m: Pick<Machine, 'id' | 'tokenGeneration'>, suffix: string): string;
  /** Resolves with the first recorded event matching, including ones already recorded. */
  waitForEvent(match: (e: StoredEvent) => boolean): Promise<StoredEvent>;
  cleanup(): Promise<void>;
}

/**
 * Builds the real HTTP app over a SQLite store, a token secret, an artifact root and a fake iPXE
 * directory, all in one temp directory that cleanup() removes. `config` is merged into a minimal
 * document and validated, so defaults match what rackboot runs with.
 */
export interface HttpFixtureOptions {
  /** Overrides of the BMC client settings (the fixture's default retry and poll steps are short). */
  bmc?: Partial<BmcClientSettings>;
  /** Logger for the app and the BMC layer (silent by default). */
  log?: Logger;
}

export async function buildHttpFixture(config: Record<string, unknown> = {}, opts: HttpFixtureOptions = {}): Promise<HttpFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'rb-http-'));
  try {
    const artifactsRoot = join(dir, 'artifacts');
    const ipxeDir = join(dir, 'ipxe');
    mkdirSync(artifactsRoot, { recursive: true });
    mkdirSync(ipxeDir, { recursive: true });
    const ipxeFiles: Record<string, Buffer> = {};
    for (const name of REQUIRED_IPXE_BINARIES) {
      const data = randomBytes(4096 + name.length * 97);
      writeFileSync(join(ipxeDir, name), data);
      ipxeFiles[name] = data;
    }

    const r = validateConfig({ advertiseAddress: ADVERTISE, dataDir: join(dir, 'data'), artifacts: { root: artifactsRoot }, boot: { ipxeDir }, ...config }, dir);
    if (!r.ok) throw new Error(`fixture config invalid: ${JSON.stringify(r.issues)}`);
    const cfg = r.config;

    const log = opts.log ?? pino({ level: 'silent' });
    const store = openSqliteStore(join(cfg.dataDir, 'rackboot.db'));
    const tokens = new MachineTokens(await loadOrCreateSecret(cfg.dataDir));
    const urls = new BootUrls(cfg.publicUrl, tokens);
    const timeline = new Timeline(store.events, log);
    const events: StoredEvent[] = [];
    timeline.on('event', (e) => events.push(e));
    const templates = await loadIpxeTemplates(join(bundledBootAssets(), 'templates'));
    const lifecycle = new Lifecycle(store.machines, store.events, timeline, cfg.lifecycle, log);
    const userData = await ProfileUserData.load(cfg.profiles, join(bundledBootAssets(), 'templates'), urls);
    const blobHandles = new FileHandleCache();
    const adminToken = (await issueApiToken(store.apiTokens, 'test-admin', 'admin')).secret;
    const viewerToken = (await issueApiToken(store.apiTokens, 'test-viewer', 'viewer')).secret;
    const metrics = new Metrics(store.machines, store.clusters);
    timeline.on('event', metrics.onTimelineEvent);
    const cipher = await loadOrCreateCredentialKey(cfg.bmcKeyFile);
    // Short retry and poll steps: the fixture BMCs answer at once.
    const settings: BmcClientSettings = { timeoutMs: cfg.bmc.timeoutSeconds * 1000, retries: cfg.bmc.retries, retryBaseDelayMs: 10, powerPollMs: 10, ...opts.bmc };
    const provisioner = new BmcProvisioner({ cfg, machines: store.machines, bmcs: store.bmcs, artifacts: store.artifacts, timeline, lifecycle, cipher, urls, settings, metrics, log });
    provisioner.start();
    const bmc = { machines: store.machines, bmcs: store.bmcs, provisioner, registration: { machines: store.machines, bmcs: store.bmcs, events: store.events, timeline, cipher, settings, metrics, log } };
    const clusters = new ClusterFeed(store.clusters);
    const progress = new ProgressBoard({ stageTimeouts: timedStages(cfg.lifecycle) });
    timeline.on('event', progress.onTimelineEvent);
    // Formation is wired so the cluster API is served; no host in this fixture answers it.
    const formation = new ClusterFormation({
      clusters,
      machines: store.machines,
      lifecycle,
      timeline,
      client: async () => ({ ok: false, error: { code: 'RB_LOCALAPI_BAD_CONFIG', message: 'the HTTP fixture has no appliance hosts' } }),
      sealKey: Buffer.alloc(32, 7),
      timeouts: cfg.lifecycle,
      pollMs: cfg.enrollment.pollMs,
      log,
    });
    const enrollment = { clusters, machines: store.machines, formation, timeline, log };
    const app = await buildHttpApp({ cfg, apiTokens: store.apiTokens, audit: store.audit, metrics, machines: store.machines, events: store.events, timeline, tokens, urls, templates, ipxeDir, log, lifecycle, userData, artifacts: store.artifacts, blobs: new BlobStore(artifactsRoot), blobHandles, bmc, clusters, clusterFeed: clusters, progress, enrollment });
    await app.ready();

    return {
      app,
      store,
      cfg,
      tokens,
      urls,
      timeline,
      clusters,
      metrics,
      progress,
      lifecycle,
      provisioner,
      cipher,
      dir,
      artifactsRoot,
      ipxeDir,
      ipxeFiles,
      adminToken,
      viewerToken,
      auth: (role = 'admin') => ({ authorization: `Bearer ${role === 'admin' ? adminToken : viewerToken}` }),
      events,
      artifact(rel, data) {
        const p = join(artifactsRoot, rel);
        mkdirSync(dirname(p), { recursive: true });
        const buf = typeof data === 'string' ? Buffer.from(data) : data;
        writeFileSync(p, buf);
        return buf;
      },
      async addMachine(input) {
        const n = normalizeMachineInput(input);
        if (!n.ok) throw new Error(`fixture machine invalid: ${JSON.stringify(n.issues)}`);
        return store.machines.create(n.machine);
      },
      bootPath(m, suffix) {
        return new URL(`${urls.base(m)}${suffix}`).pathname;
      },
      waitForEvent(match) {
        const seen = events.find(match);
        if (seen !== undefined) return Promise.resolve(seen);
        return new Promise((resolve) => {
          const on = (e: StoredEvent) => {
            if (!match(e)) return;
            timeline.off('event', on);
            resolve(e);
          };
          timeline.on('event', on);
        });
      },
      async cleanup() {
        try {
          await provisioner.stop();
          await app.close();
          await blobHandles.close();
          await store.close();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
