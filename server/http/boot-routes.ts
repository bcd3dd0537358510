import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ResolvedConfig } from '../config/load.js';
import { planBoot } from '../boot/boot-plan.js';
import type { BootUrls } from '../boot/boot-urls.js';
import { renderIpxeScript } from '../boot/ipxe-script.js';
import type { MachineTokens } from '../boot/machine-tokens.js';
import type { IpxeTemplateName, Template } from '../boot/template.js';
import type { Machine } from '../inventory/machine.js';
import type { MachineRepo } from '../store/types.js';
import type { Timeline } from '../timeline/recorder.js';
import { resolveInside, sendFile } from './send-file.js';

export interface BootRouteDeps {
  cfg: ResolvedConfig;
  machines: MachineRepo;
  timeline: Timeline;
  tokens: MachineTokens;
  urls: BootUrls;
  templates: Record<IpxeTemplateName, Template>;
  ipxeDir: string;
}

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
    if (m === null || !deps.tokens.verify(m, token)) {
      req.log.warn({ remote: req.ip, id }, 'boot path with an unknown machine or a bad token');
      return reply.code(404).type('text/plain').send('not found\n');
    }
    req.machine = m;
  });

  app.get<{ Params: BootParams }>('/boot/:id/:token/script.ipxe', async (req, reply) => {
    const m = req.machine!;
    const plan = planBoot(m, deps.cfg);
    const script = renderIpxeScript(m, plan, { templates: deps.templates, urls: deps.urls, retries: deps.cfg.boot.scriptRetries });
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

  /** Range reads from sanboot and BMCs come by the hundred; only whole fetches and first reads reach the timeline. */
  async function serveTracked(req: FastifyRequest, reply: FastifyReply, path: string, what: string, name: string): Promise<void> {
    const m = req.machine!;
    const started = Date.now();
    const sent = await sendFile(req, reply, path);
    // 304 and 416 send no file: recording them as fetched would put a false 'sent' on the timeline.
    if (sent === null || req.method === 'HEAD' || sent.status >= 300 || (sent.range !== null && sent.range.start !== 0)) return;
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
  }
}
