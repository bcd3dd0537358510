import { Type } from '@sinclair/typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { BrowserSessions } from '../access/browser-sessions.js';
import { bundledBootAssets } from '../boot/assets-path.js';
import type { ApiTokenRepo, AuditRepo } from '../store/types.js';
import { installAudit } from './audit.js';
import { installAccessControl } from './access-control.js';
import { RateLimiter } from './rate-limiter.js';
import { addApiSchemas } from './api-schemas.js';
import { registerOpenApi } from './openapi.js';
import { installMetrics } from './metrics-route.js';
import { eventStreamRoutes, type EventStreamDeps } from './event-stream-route.js';
import type { Metrics } from '../metrics/metrics.js';
import { bmcRoutes, type BmcRouteDeps } from './bmc-routes.js';
import { bootRoutes, type BootRouteDeps } from './boot-routes.js';
import { clusterRoutes, type ClusterRouteDeps } from './cluster-routes.js';
import { machineRoutes, type MachineRouteDeps } from './machine-routes.js';
import { maasRoutes } from './maas-routes.js';
import { progressRoutes } from './progress-route.js';
import type { ProgressBoard } from '../progress/progress-board.js';
import { installProblemHandlers } from './problem.js';
import { sessionRoutes } from './session-routes.js';
import { loadUiAssets, uiRoutes } from './ui-routes.js';

export type HttpDeps = BootRouteDeps & MachineRouteDeps & Pick<EventStreamDeps, 'clusterFeed'> & { log: Logger; apiTokens: ApiTokenRepo; audit: AuditRepo; metrics: Metrics; bmc: BmcRouteDeps; enrollment?: ClusterRouteDeps; progress: ProgressBoard };

export async function buildHttpApp(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'http' }) as FastifyBaseLogger,
    // Boot traffic is recorded on the machine timeline; per-request log lines would only repeat it.
    logController: new LogController({ disableRequestLogging: true }),
    // Firmware does not follow redirects, so '//' and trailing '/' are matched, never redirected.
    routerOptions: { ignoreDuplicateSlashes: true, ignoreTrailingSlash: true, maxParamLength: 512 },
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { coerceTypes: true, useDefaults: true, removeAdditional: false } },
  });
  installProblemHandlers(app);
  addApiSchemas(app);
  // Before any route: every route registered after this, by any module, sits behind the gate and is
  // described in the OpenAPI document.
  const sessions = new BrowserSessions();
  installAccessControl(app, deps.apiTokens, new RateLimiter(deps.cfg.api.rateLimit), sessions, deps.cfg.api.plainHttp);
  await registerOpenApi(app);
  installMetrics(app, deps.metrics);
  installAudit(app, deps.audit);
  app.get('/healthz', { schema: { tags: ['meta'], summary: 'Liveness', response: { 200: Type.Object({ ok: Type.Boolean() }) } } }, async () => ({ ok: true }));
  await app.register(async (scope) => bootRoutes(scope, deps));
  await app.register(async (scope) => machineRoutes(scope, deps));
  await app.register(async (scope) => eventStreamRoutes(scope, deps));
  await app.register(async (scope) => progressRoutes(scope, deps));
  await app.register(async (scope) => bmcRoutes(scope, deps.bmc));
  await app.register(async (scope) => maasRoutes(scope, deps));
  await app.register(async (scope) => sessionRoutes(scope, sessions));
  const ui = await loadUiAssets(join(bundledBootAssets(), 'ui'));
  await app.register(async (scope) => uiRoutes(scope, ui));
  const enrollment = deps.enrollment;
  if (enrollment !== undefined) await app.register(async (scope) => clusterRoutes(scope, enrollment));
  return app;
}
