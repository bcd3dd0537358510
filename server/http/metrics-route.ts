import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics/metrics.js';

/**
 * Counts every HTTP answer and serves `/metrics`. The route sits behind the API gate like any other:
 * Prometheus sends a viewer token (`authorization.credentials_file` in its scrape config).
 */
export function installMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (req, reply) => {
    // A HEAD answer's Content-Length describes a body that is not sent; an aborted stream sent less.
    const sent = req.method !== 'HEAD' && reply.raw.writableFinished ? Number(reply.getHeader('content-length') ?? 0) : 0;
    metrics.httpResponse(req.routeOptions.url ?? 'unmatched', req.method, reply.statusCode, Number.isFinite(sent) ? sent : 0);
  });
  app.get(
    '/metrics',
    { schema: { tags: ['meta'], summary: 'Prometheus metrics (text exposition format)', response: { 200: { description: 'Prometheus text format 0.0.4', type: 'string' } } } },
    async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
