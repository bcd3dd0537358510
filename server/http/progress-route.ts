import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { SubjectProgressSchema, type ProgressBoard } from '../progress/progress-board.js';

export interface ProgressRouteDeps {
  progress: ProgressBoard;
}

const ProgressQuery = Type.Object(
  {
    machine: Type.Optional(Type.String({ pattern: '^[0-9a-f-]{36}$', description: 'only this machine' })),
    cluster: Type.Optional(Type.String({ pattern: '^[0-9a-f-]{36}$', description: 'only this cluster (by id)' })),
  },
  { additionalProperties: false },
);

/** `GET /api/v1/progress`: what is in flight now; the event stream carries the same as `event: progress`. */
export async function progressRoutes(app: FastifyInstance, deps: ProgressRouteDeps): Promise<void> {
  app.addSchema({ ...SubjectProgressSchema, $id: 'SubjectProgress' });
  app.get(
    '/api/v1/progress',
    {
      schema: {
        tags: ['events'],
        summary: 'Live progress of long steps: downloads to machines, content uploads of clusters, timed install stages',
        querystring: ProgressQuery,
        response: { 200: Type.Object({ items: Type.Array(Type.Ref('SubjectProgress')) }) },
      },
    },
    async (req) => {
      const q = req.query as { machine?: string; cluster?: string };
      const items = deps.progress.list().filter((p) => (q.machine === undefined || (p.subject === 'machine' && p.id === q.machine)) && (q.cluster === undefined || (p.subject === 'cluster' && p.id === q.cluster)));
      return { items };
    },
  );
}
