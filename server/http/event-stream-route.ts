import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { EventRepo, StoredEvent } from '../store/types.js';
import type { Timeline } from '../timeline/recorder.js';
import { problemResponses } from './openapi.js';
import { sendProblem } from './problem.js';

export interface EventStreamDeps {
  events: EventRepo;
  timeline: Timeline;
}

const StreamQuery = Type.Object(
  {
    machine: Type.Optional(Type.String({ pattern: '^[0-9a-f-]{36}$', description: "only this machine's events" })),
    after: Type.Optional(Type.Integer({ minimum: 0, description: 'replay events after this id first (as Last-Event-ID does)' })),
  },
  { additionalProperties: false },
);
const StreamHeaders = Type.Object({ 'last-event-id': Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })) });

const MAX_STREAMS = 200;
/** A client this far behind is cut off; it resumes from its Last-Event-ID without losing anything. */
const MAX_BUFFERED = 1024 * 1024;
const REPLAY_PAGE = 1000;
const HEARTBEAT_MS = 15_000;

/**
 * `GET /api/v1/events/stream`: every timeline event (boot steps, state changes) as server-sent events,
 * `event: timeline`, `id:` the event id and `data:` the event as JSON. A client that reconnects with
 * Last-Event-ID gets every event it missed, in order, then the live ones, none twice.
 */
export async function eventStreamRoutes(app: FastifyInstance, deps: EventStreamDeps): Promise<void> {
  const streams = new Set<NodeJS.WritableStream & { destroy(): void }>();
  // Streams never end on their own: close them so the server can stop.
  app.addHook('preClose', async () => {
    for (const s of streams) s.destroy();
  });
  app.get(
    '/api/v1/events/stream',
    {
      schema: {
        tags: ['events'],
        summary: 'Machine timeline events and state changes, live (server-sent events)',
        querystring: StreamQuery,
        headers: StreamHeaders,
        response: {
          200: { description: 'text/event-stream: `id`, `event: timeline`, `data` = a TimelineEvent', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          ...problemResponses(400, 503),
        },
      },
    },
    async (req, reply) => {
      const q = req.query as { machine?: string; after?: number };
      const header = (req.headers as { 'last-event-id'?: string })['last-event-id'];
      const resumeFrom = header !== undefined ? Number(header) : (q.after ?? null);
      if (streams.size >= MAX_STREAMS) return sendProblem(reply, 503, 'Too many event streams', `at most ${MAX_STREAMS} streams are served at once`);
      reply.hijack();
      const raw = reply.raw;
      streams.add(raw);
      raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
      raw.write('retry: 2000\n\n');

      let sentId = resumeFrom ?? 0;
      let replaying = resumeFrom !== null;
      const pending: StoredEvent[] = [];
      const write = (e: StoredEvent): void => {
        if (e.id <= sentId || raw.destroyed) return;
        sentId = e.id;
        if (q.machine !== undefined && e.machineId !== q.machine) return;
        raw.write(`id: ${e.id}\nevent: timeline\ndata: ${JSON.stringify(e)}\n\n`);
        if (raw.writableLength > MAX_BUFFERED) {
          req.log.warn({ remote: req.ip }, 'event stream client too slow; closing it (it resumes with Last-Event-ID)');
          raw.destroy();
        }
      };
      const onEvent = (e: StoredEvent): void => {
        if (replaying) pending.push(e);
        else write(e);
      };
      // Subscribed before the replay reads the store, so an event recorded in between is not lost.
      deps.timeline.on('event', onEvent);
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
      raw.once('close', () => {
        streams.delete(raw);
        clearInterval(heartbeat);
        deps.timeline.off('event', onEvent);
      });
      try {
        while (replaying && !raw.destroyed) {
          const page = await deps.events.listAfter(sentId, REPLAY_PAGE);
          for (const e of page) write(e);
          if (page.length < REPLAY_PAGE) replaying = false;
        }
        for (const e of pending.splice(0)) write(e);
      } catch (e) {
        req.log.error({ err: e }, 'event stream replay failed');
        raw.destroy();
      }
    },
  );
}
