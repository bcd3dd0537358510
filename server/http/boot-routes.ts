import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ResolvedConfig } from '../config/load.js';
import { planBoot } from '../boot/boot-plan.js';
import type { BootUrls } from '../boot/boot-urls.js';
import { renderIpxeScript } from '../boot/ipxe-script.js';
import type { MachineTokens } from '../boot/machine-tokens.js';
import type { ProfileUserData } from '../boot/profile-user-data.js';
import type { IpxeTemplateName, Template } from '../boot/template.js';
import { CALLBACK_STAGES, type CallbackStage } from '../boot/user-data.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import type { MachineState } from '../lifecycle/states.js';
import type { Machine } from '../inventory/machine.js';
import type { ArtifactRepo, EventRepo, MachineRepo, StoredEvent } from '../store/types.js';
import type { BlobStore } from '../artifacts/blob-store.js';
import type { ApplianceIsoArtifact } from '../artifacts/artifact.js';
import { APPLIANCE_FILES, type ApplianceFile } from '../boot/boot-urls.js';
import type { FileHandleCache, FileOpener } from './file-handle-cache.js';
import type { Timeline } from '../timeline/recorder.js';
import { resolveInside, sendFile, sendSegments, type BodyObserver, type SegmentedFile, type SentFile } from './send-file.js';
import type { ProgressBoard, TransferHandle } from '../progress/progress-board.js';
import { machineIso, type MachineIsoResult } from '../boot/machine-iso.js';
import { buildIso } from '../iso9660/writer.js';

export interface BootRouteDeps {
  cfg: ResolvedConfig;
  machines: MachineRepo;
  timeline: Timeline;
  tokens: MachineTokens;
  urls: BootUrls;
  templates: Record<IpxeTemplateName, Template>;
  ipxeDir: string;
  lifecycle: Lifecycle;
  events: EventRepo;
  userData: ProfileUserData;
  artifacts: ArtifactRepo;
  blobs: BlobStore;
  /** Open handles of content-addressed blobs, shared by the many Range reads of an ISO mount. */
  blobHandles: FileHandleCache;
  /** Live download progress; without it no bars are kept. */
  progress?: ProgressBoard;
}

// What a BMC mounts: the cidata seed and ISO images of an appliance.
const MEDIA_PATH = /^\/boot\/[^/]+\/[^/]+\/(cidata\.iso|appliance\/[^/]+\/[^/?]+\.iso)(\?|$)/;

const STARTS_INSTALLER: ReadonlySet<MachineState> = new Set(['discovered', 'ready', 'provisioning']);

interface BootParams {
  id: string;
  token: string;
  '*'?: string;
  binary?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    machine?: Machine;
  }
}

/**
 * The paths machines reach while booting. Each sits behind the machine's capability token; an unknown
 * id and a wrong token get the same plain 404, so the routes reveal nothing about the inventory.
 */
export async function bootRoutes(app: FastifyInstance, deps: BootRouteDeps): Promise<void> {
  app.decorateRequest('machine', undefined);
  app.addHook('preHandler', async (req: FastifyRequest<{ Params: BootParams }>, reply: FastifyReply) => {
    const { id, token } = req.params;
    const m = /^[0-9a-f-]{36}$/.test(id) ? await deps.machines.get(id) : null;
    // Media tokens (expiring, handed to BMCs) open the ISO paths only.
    const media = m !== null && MEDIA_PATH.test(req.url) ? deps.tokens.verifyMedia(m, token) : 'bad';
    if (m === null || (media !== 'ok' && !deps.tokens.verify(m, token))) {
      req.log.warn({ remote: req.ip, id }, media === 'expired' ? 'virtual-media URL with an expired media token' : 'boot path with an unknown machine or a bad token');
      return reply.code(404).type('text/plain').send('not found\n');
    }
    req.machine = m;
  });

  app.get<{ Params: BootParams }>('/boot/:id/:token/script.ipxe', async (req, reply) => {
    let m = req.machine!;
    let plan = planBoot(m, deps.cfg);
    if (plan.kind === 'netboot') {
      if (STARTS_INSTALLER.has(m.state)) {
        const moved = await deps.lifecycle.move(m.id, 'booting-installer', `installer script served (profile ${plan.profileName})`);
        if (moved.ok) m = moved.machine;
      } else if (m.state === 'booting-installer') {
        const boots = await installerBootsSince(m);
        if (boots >= deps.cfg.lifecycle.maxInstallerBoots) {
          await deps.lifecycle.fail(m.id, `boot loop: the installer booted ${boots} times without starting the install`);
          m = (await deps.machines.get(m.id)) ?? m;
          plan = planBoot(m, deps.cfg);
        }
      }
    }
    const found = plan.kind === 'netboot' && plan.profile.appliance !== undefined ? await deps.artifacts.findByName(plan.profile.appliance) : null;
    const appliance = found?.kind === 'appliance-iso' ? found : null;
    const script = renderIpxeScript(m, plan, { templates: deps.templates, urls: deps.urls, retries: deps.cfg.boot.scriptRetries }, appliance);
    await deps.timeline.record({
      machineId: m.id,
      mac: null,
      source: 'http',
      kind: 'script.served',
      outcome: 'ok',
      message: plan.kind === 'netboot' ? `iPXE script served: netboot with profile ${plan.profileName}` : `iPXE script served: local disk (${plan.reason})`,
      detail: { remote: req.ip, plan: plan.kind, ...(plan.kind === 'netboot' ? { profile: plan.profileName } : { reason: plan.reason }) },
    });
    return reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(script);
  });

  app.get<{ Params: BootParams }>('/boot/:id/:token/user-data', async (req, reply) => {
    const m = req.machine!;
    const r = renderFor(m);
    if (!r.ok) {
      if (r.status === 422) {
        if (m.state === 'booting-installer' || m.state === 'installing') await deps.lifecycle.fail(m.id, `user-data: ${r.reason}`);
        else await deps.timeline.record({ machineId: m.id, mac: null, source: 'http', kind: 'userdata.refused', outcome: 'error', message: `user-data not rendered: ${r.reason}` });
      }
      return reply.code(r.status).type('text/plain').send(`${r.reason}\n`);
    }
    // The document carries password hashes: only its size goes to the timeline, never its text.
    await deps.timeline.record({ machineId: m.id, mac: null, source: 'http', kind: 'userdata.served', outcome: 'ok', message: `user-data served (${r.text.length} bytes, profile ${r.profile})`, detail: { remote: req.ip, profile: r.profile } });
    return reply.type('text/yaml; charset=utf-8').header('cache-control', 'no-store').send(r.text);
  });

  // NoCloud seed for a BMC's second virtual-media slot: the same user-data, plus meta-data.
  const cidataBuilt = new Map<string, string>();
  app.route<{ Params: BootParams }>({
    method: ['GET', 'HEAD'],
    url: '/boot/:id/:token/cidata.iso',
    exposeHeadRoute: false,
    handler: async (req, reply) => {
      const m = req.machine!;
      // A BMC reads the seed with many Range requests: build it once per version of the machine record.
      const key = `${m.id}:${m.tokenGeneration}:${m.updatedAt}`;
      let sha = cidataBuilt.get(key);
      if (sha === undefined) {
        const rendered = renderFor(m);
        if (!rendered.ok) return reply.code(rendered.status).type('text/plain').send(`${rendered.reason}\n`);
        const metaData = `instance-id: rackboot-${m.id}-${m.tokenGeneration}\nlocal-hostname: ${m.network?.hostname ?? m.name}\n`;
        const iso = buildIso(
          [
            { path: 'user-data', data: Buffer.from(rendered.text) },
            { path: 'meta-data', data: Buffer.from(metaData) },
          ],
          { volumeId: 'cidata' },
        );
        sha = createHash('sha256').update(iso).digest('hex');
        if (!(await deps.blobs.has(sha))) await deps.blobs.put(Readable.from([iso]));
        if (cidataBuilt.size >= 1024) cidataBuilt.delete(cidataBuilt.keys().next().value!);
        cidataBuilt.set(key, sha);
      }
      await serveTracked(req, reply, deps.blobs.pathOf(sha), 'cidata', 'cidata.iso', deps.blobHandles.open);
    },
  });

  app.route<{ Params: BootParams & { stage: string } }>({
    method: ['GET', 'POST'],
    url: '/boot/:id/:token/callback/:stage',
    handler: async (req, reply) => {
      const m = req.machine!;
      const stage = req.params.stage;
      if (!(stage in CALLBACK_STAGES)) return reply.code(404).type('text/plain').send('unknown stage\n');
      const r = await onCallback(m, stage as CallbackStage, req.ip);
      return reply.code(r.status).type('text/plain').send(`${r.message}\n`);
    },
  });

  const phoneHome = async (req: FastifyRequest<{ Params: BootParams; Querystring: Record<string, unknown> }>, reply: FastifyReply) => {
    const m = req.machine!;
    const q = req.query;
    await deps.timeline.record({
      machineId: m.id,
      mac: typeof q.mac === 'string' ? q.mac.slice(0, 32) : null,
      source: 'callback',
      kind: 'boot.completed',
      outcome: 'ok',
      message: 'the booted system phoned home',
      detail: { remote: req.ip, ...(typeof q.uptime === 'string' ? { uptime: q.uptime.slice(0, 32) } : {}) },
    });
    return reply.type('text/plain').send('ok\n');
  };
  app.get('/boot/:id/:token/phone-home', phoneHome);
  app.post('/boot/:id/:token/phone-home', phoneHome);
  // The phone-home body is never read, so accept whatever the booted system posts (cloud-init's phone_home sends a form).
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, _body, done) => done(null, null));

  const firstStage = async (req: FastifyRequest<{ Params: BootParams }>, reply: FastifyReply) => {
    const binary = req.params.binary ?? '';
    const resolved = /^[A-Za-z0-9._-]+$/.test(binary) ? await resolveInside(deps.ipxeDir, binary) : { ok: false as const, reason: 'bad name' };
    if (!resolved.ok) return reply.code(404).type('text/plain').send('not found\n');
    await serveTracked(req, reply, resolved.path, 'firststage', binary);
  };
  // Explicit HEAD: fastify's generated HEAD route would overwrite Content-Length with 0, and UEFI HTTP
  // Boot sizes its download buffer from the HEAD answer.
  app.route({ method: ['GET', 'HEAD'], url: '/boot/:id/:token/ipxe/:binary', handler: firstStage, exposeHeadRoute: false });

  const artifact = async (req: FastifyRequest<{ Params: BootParams }>, reply: FastifyReply) => {
    const rel = req.params['*'] ?? '';
    const resolved = await resolveInside(deps.cfg.artifactsRoot, rel);
    if (!resolved.ok) return reply.code(404).type('text/plain').send('not found\n');
    await serveTracked(req, reply, resolved.path, 'artifact', rel);
  };
  app.route({ method: ['GET', 'HEAD'], url: '/boot/:id/:token/files/*', handler: artifact, exposeHeadRoute: false });

  // Per-machine views of appliance ISOs, by machine record version and ISO: a sanboot or a BMC reads
  // one with hundreds of Range requests, and the layout needs a walk of the ISO's directory trees.
  const machineIsos = new Map<string, Promise<MachineIsoResult>>();
  const rangeReads = new Set<string>();
  const machineIsoFile = async (req: FastifyRequest<{ Params: BootParams & { name: string } }>, reply: FastifyReply) => {
    let m = req.machine!;
    const a = await deps.artifacts.findByName(req.params.name);
    if (a === null || a.kind !== 'appliance-iso') return reply.code(404).type('text/plain').send('not found\n');
    const key = `${m.id}:${m.tokenGeneration}:${m.updatedAt}:${a.sha256}`;
    let pending = machineIsos.get(key);
    if (pending === undefined) {
      const rendered = renderFor(m);
      if (!rendered.ok) return reply.code(rendered.status).type('text/plain').send(`${rendered.reason}\n`);
      pending = machineIso(deps.blobs.pathOf(a.sha256), a, rendered.text, deps.urls.userData(m));
      if (machineIsos.size >= 256) machineIsos.delete(machineIsos.keys().next().value!);
      machineIsos.set(key, pending);
    }
    const built = await pending;
    if (!built.ok) {
      machineIsos.delete(key);
      req.log.error({ id: m.id, artifact: a.name, code: built.code }, `machine ISO not built: ${built.reason}`);
      await deps.timeline.record({ machineId: m.id, mac: null, source: 'http', kind: 'machine-iso.refused', outcome: 'error', message: `machine.iso of ${a.name} not built: ${built.reason}`, detail: { code: built.code } });
      return reply.code(500).type('text/plain').send('machine ISO could not be built\n');
    }
    const name = `${a.name}/machine.iso`;
    // UEFI HTTP Boot fetches the ISO without any script: this download is the installer boot.
    const plan = planBoot(m, deps.cfg);
    if (req.method === 'GET' && plan.kind === 'netboot' && STARTS_INSTALLER.has(m.state)) {
      const moved = await deps.lifecycle.move(m.id, 'booting-installer', `installer ISO served (profile ${plan.profileName}, method ${plan.profile.method ?? 'netboot'})`);
      if (moved.ok) m = moved.machine;
    } else if (req.method === 'GET' && req.headers.range === undefined && plan.kind === 'netboot' && plan.profile.method === 'http-iso' && m.state === 'booting-installer') {
      const boots = await installerBootsSince(m, (e) => e.kind === 'appliance.fetched' && e.detail?.file === name && e.detail?.status === 200);
      if (boots >= deps.cfg.lifecycle.maxInstallerBoots) {
        await deps.lifecycle.fail(m.id, `boot loop: the installer ISO booted ${boots} times without starting the install`);
        return reply.code(404).type('text/plain').send('not found\n');
      }
    }
    const sent = await serveTracked(req, reply, deps.blobs.pathOf(a.sha256), 'appliance', name, deps.blobHandles.open, { ...built.iso.image, etag: built.iso.etag });
    // A SAN boot or a BMC reads ranges only, maybe never byte 0: its first read per boot goes on the timeline.
    const readKey = `${m.id}:${m.tokenGeneration}:${m.state}:${m.stateEnteredAt}:${built.iso.etag}`;
    if (sent?.status === 206 && sent.range !== null && sent.range.start !== 0 && !rangeReads.has(readKey)) {
      if (rangeReads.size >= 1024) rangeReads.delete(rangeReads.values().next().value!);
      rangeReads.add(readKey);
      await deps.timeline.record({
        machineId: m.id,
        mac: null,
        source: 'http',
        kind: 'appliance.read',
        outcome: 'ok',
        message: `${name}: range reads started (bytes ${sent.range.start}-${sent.range.end} of ${sent.size})`,
        detail: { remote: req.ip, file: name, size: sent.size, start: sent.range.start, end: sent.range.end },
      });
    }
  };
  app.route({ method: ['GET', 'HEAD'], url: '/boot/:id/:token/appliance/:name/machine.iso', handler: machineIsoFile, exposeHeadRoute: false });

  const applianceFile = async (req: FastifyRequest<{ Params: BootParams & { name: string; file: string } }>, reply: FastifyReply) => {
    const a = await deps.artifacts.findByName(req.params.name);
    const file = req.params.file as ApplianceFile;
    const sha = a === null || a.kind !== 'appliance-iso' || !(APPLIANCE_FILES as readonly string[]).includes(file) ? null : blobOf(a, file);
    if (sha === null) return reply.code(404).type('text/plain').send('not found\n');
    // Served under its public name so the media type follows it (.iso → application/vnd.efi-iso).
    await serveTracked(req, reply, deps.blobs.pathOf(sha), 'appliance', `${a!.name}/${file}`, deps.blobHandles.open);
  };
  app.route({ method: ['GET', 'HEAD'], url: '/boot/:id/:token/appliance/:name/:file', handler: applianceFile, exposeHeadRoute: false });

  // Kairos reads config_url on every boot, also after install, so user-data is rendered in every state.
  function renderFor(m: Machine): { ok: true; text: string; profile: string } | { ok: false; status: number; reason: string } {
    const name = m.profile ?? deps.cfg.boot.defaultProfile;
    const profile = name === undefined || name === null ? undefined : deps.cfg.profiles[name];
    if (name === undefined || name === null || profile === undefined) return { ok: false, status: 404, reason: 'no boot profile for this machine' };
    const r = deps.userData.render(m, name, profile);
    return r.ok ? { ok: true, text: r.text, profile: name } : { ok: false, status: 422, reason: r.reason };
  }

  /** Installer boots since the machine entered booting-installer: more than a few means a boot loop. */
  async function installerBootsSince(m: Machine, isBoot: (e: StoredEvent) => boolean = (e) => e.kind === 'script.served' && e.detail?.plan === 'netboot'): Promise<number> {
    const since = Date.parse(m.stateEnteredAt);
    const events = await deps.events.listForMachine(m.id, { afterId: 0, limit: 5000 });
    return events.filter((e) => isBoot(e) && Date.parse(e.ts) >= since).length;
  }

  /** Install callbacks move the lifecycle; a retried callback is accepted, one out of order is refused. */
  async function onCallback(m: Machine, stage: CallbackStage, remote: string): Promise<{ status: number; message: string }> {
    const step: Record<CallbackStage, { to: MachineState | null; done: readonly MachineState[] }> = {
      'install-start': { to: 'installing', done: ['installing'] },
      'install-done': { to: 'installed', done: ['installed'] },
      'first-boot': { to: null, done: [] },
    };
    const { to, done } = step[stage];
    if (done.includes(m.state)) return { status: 200, message: `already ${m.state}` };
    if (to === null) {
      // The network stage also runs in the live installer; only a boot of the installed system counts.
      if (m.state !== 'installed') return { status: 200, message: `ignored in state ${m.state}` };
      const earlier = (await deps.events.listForMachine(m.id, { afterId: 0, limit: 5000 })).some((e) => e.kind === 'lifecycle.first-boot');
      if (!earlier) {
        await deps.timeline.record({ machineId: m.id, mac: null, source: 'callback', kind: 'lifecycle.first-boot', outcome: 'ok', message: 'the installed system booted from disk for the first time', detail: { remote } });
      }
      return { status: 200, message: 'first boot recorded' };
    }
    const moved = await deps.lifecycle.move(m.id, to, `installer reported ${stage} (${CALLBACK_STAGES[stage]})`, { remote });
    if (moved.ok) return { status: 200, message: `now ${to}` };
    await deps.timeline.record({ machineId: m.id, mac: null, source: 'callback', kind: 'callback.rejected', outcome: 'error', message: `${stage} callback refused: ${moved.message}`, detail: { remote, state: m.state } });
    return { status: 409, message: moved.message };
  }

  /** Range reads from sanboot and BMCs come by the hundred; only whole fetches and first reads reach the timeline. */
  async function serveTracked(req: FastifyRequest, reply: FastifyReply, path: string, what: string, name: string, open?: FileOpener, view?: SegmentedFile): Promise<SentFile | null> {
    const m = req.machine!;
    const started = Date.now();
    if (name.endsWith('.iso')) reply.header('content-type', 'application/vnd.efi-iso');
    // Long bodies show a live progress bar; it ends when the response does.
    let bar: TransferHandle | null = null;
    const observe: BodyObserver = (s) => {
      bar = deps.progress?.download(m.id, name, s) ?? null;
      const b = bar;
      return b === null ? null : (n) => b.sent(n);
    };
    const sent = view === undefined ? await sendFile(req, reply, path, open, observe) : await sendSegments(req, reply, path, view, open, observe);
    const barEnd = () => (bar as TransferHandle | null)?.end(reply.raw.writableFinished);
    if (reply.raw.writableFinished || reply.raw.destroyed) barEnd();
    else reply.raw.once('close', barEnd);
    // 304 and 416 send no file: recording them as fetched would put a false 'sent' on the timeline.
    if (sent === null || req.method === 'HEAD' || sent.status >= 300 || (sent.range !== null && sent.range.start !== 0)) return sent;
    const done = () => {
      const finished = reply.raw.writableFinished;
      void deps.timeline.record({
        machineId: m.id,
        mac: null,
        source: 'http',
        kind: finished ? `${what}.fetched` : `${what}.aborted`,
        outcome: finished ? 'ok' : 'error',
        message: finished ? `${name} sent (${sent.bytes} bytes)` : `${name}: the client closed the connection before the end`,
        detail: { remote: req.ip, file: name, status: sent.status, size: sent.size, bytes: finished ? sent.bytes : null, durationMs: Date.now() - started },
      });
    };
    if (reply.raw.writableFinished || reply.raw.destroyed) done();
    else reply.raw.once('close', done);
    return sent;
  }
}

function blobOf(a: ApplianceIsoArtifact, file: ApplianceFile): string {
  switch (file) {
    case 'kernel':
      return a.meta.files.kernel.sha256;
    case 'initrd':
      return a.meta.files.initrd.sha256;
    case 'rootfs.squashfs':
      return a.meta.files.squashfs.sha256;
    case 'appliance.iso':
      return a.sha256;
  }
}
