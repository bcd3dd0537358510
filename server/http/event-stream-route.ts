import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ClusterEvent } from '../enrollment/cluster.js';
import type { ClusterFeed } from '../enrollment/cluster-feed.js';
import type { EventRepo, StoredEvent } from '../store/types.js';
import type { ProgressBoard, SubjectProgress } from '../progress/progress-board.js';
import type { Timeline } from '../timeline/recorder.js';
import { problemResponses } from './openapi.js';
import { findCluster } from './machine-routes.js';
import { sendProblem } from './problem.js';

export interface EventStreamDeps {
  events: EventRepo;
  timeline: Timeline;
  /** Cluster events and state changes; without it the stream carries timeline events only. */
  clusterFeed?: ClusterFeed;
  /** Live progress of long steps; sent as `event: progress`, outside the resumable sequence. */
  progress?: ProgressBoard;
}

const CURSOR = '^[0-9]{1,15}(-[0-9]{1,15})?$';
const StreamQuery = Type.Object(
  {
    machine: Type.Optional(Type.String({ pattern: '^[0-9a-f-]{36}$', description: "only this machine's timeline events (no cluster events)" })),
    cluster: Type.Optional(Type.String({ minLength: 1, description: "only this cluster's events and its members' timeline events, by id or name; unknown is a 404" })),
    after: Type.Optional(Type.String({ pattern: CURSOR, description: 'replay events after this event id first (as Last-Event-ID does)' })),
    progress: Type.Optional(Type.Boolean({ description: 'also send `event: progress` messages (live progress of long steps); off unless asked, so older clients see only the events they know' })),
  },
  { additionalProperties: false },
);
const StreamHeaders = Type.Object({ 'last-event-id': Type.Optional(Type.String({ pattern: CURSOR })) });

/**
 * Where a client stands in both sequences: timeline event ids and cluster event ids. Sent as the SSE
 * id `T-C`; a plain `T` (an older client, or `after=` from the REST timeline) resumes the timeline
 * only and takes cluster events live from now.
 */
function parseCursor(v: string): { timeline: number; cluster: number | null } {
  const [t, c] = v.split('-');
  return { timeline: Number(t), cluster: c === undefined ? null : Number(c) };
}

const MAX_STREAMS = 200;
/** A client this far behind is cut off; it resumes from its Last-Event-ID without losing anything. */
const MAX_BUFFERED = 1024 * 1024;
const REPLAY_PAGE = 1000;
const HEARTBEAT_MS = 15_000;

/**
 * `GET /api/v1/events/stream`: every timeline event (boot steps, state changes) as `event: timeline`
 * and every cluster event (formation steps, `cluster.state` changes) as `event: cluster`, `data:` the
 * event as JSON, `id:` the cursor `T-C`. A client that reconnects with Last-Event-ID gets every event
 * it missed (timeline first, then cluster, each in order), then the live ones, none twice.
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
        summary: 'Machine timeline events and cluster events, live (server-sent events)',
        querystring: StreamQuery,
        headers: StreamHeaders,
        response: {
          200: {
            description:
              'text/event-stream: `id` (cursor `T-C`), `event: timeline` with `data` = a TimelineEvent, or `event: cluster` with `data` = a cluster event. ' +
              'With `progress=true`, also `event: progress` with `data` = a SubjectProgress (see GET /api/v1/progress), without an id: live only, never replayed; the current ones are sent once on connect',
            content: { 'text/event-stream': { schema: { type: 'string' } } } },
          ...problemResponses(400, 404, 503),
        },
      },
    },
    async (req, reply) => {
      const q = req.query as { machine?: string; cluster?: string; after?: string; progress?: boolean };
      const header = (req.headers as { 'last-event-id'?: string })['last-event-id'];
      const cursor = header ?? q.after;
      const resume = cursor === undefined ? null : parseCursor(cursor);
      let members: Set<string> | null = null;
      let clusterId: string | null = null;
      if (q.cluster !== undefined) {
        const c = await findCluster(deps.clusterFeed, q.cluster);
        if (c === null) return sendProblem(reply, 404, 'Not found', `no cluster with id or name '${q.cluster}'`);
        clusterId = c.id;
        members = new Set(c.members.map((m) => m.machineId));
      }
      if (streams.size >= MAX_STREAMS) return sendProblem(reply, 503, 'Too many event streams', `at most ${MAX_STREAMS} streams are served at once`);
      reply.hijack();
      const raw = reply.raw;
      streams.add(raw);

      // Without a cursor (or for the sequence a plain `T` leaves out) the stream starts from now:
      // the ids it sends then stand for everything before, so a resume never replays old history.
      let sentTimeline = resume?.timeline ?? 0;
      let sentCluster = resume?.cluster ?? 0;
      let replaying = true;
      const pending: Array<() => void> = [];
      const send = (event: string, data: unknown): void => {
        raw.write(`id: ${sentTimeline}-${sentCluster}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        if (raw.writableLength > MAX_BUFFERED) {
          req.log.warn({ remote: req.ip }, 'event stream client too slow; closing it (it resumes with Last-Event-ID)');
          raw.destroy();
        }
      };
      const writeTimeline = (e: StoredEvent): void => {
        if (e.id <= sentTimeline || raw.destroyed) return;
        sentTimeline = e.id;
        if (q.machine !== undefined && e.machineId !== q.machine) return;
        if (members !== null && (e.machineId === null || !members.has(e.machineId))) return;
        send('timeline', e);
      };
      const writeCluster = (e: ClusterEvent): void => {
        if (e.id <= sentCluster || raw.destroyed) return;
        sentCluster = e.id;
        if (q.machine !== undefined || (clusterId !== null && e.clusterId !== clusterId)) return;
        send('cluster', e);
      };
      const onTimeline = (e: StoredEvent): void => {
        if (replaying) pending.push(() => writeTimeline(e));
        else writeTimeline(e);
      };
      const onCluster = (e: ClusterEvent): void => {
        if (replaying) pending.push(() => writeCluster(e));
        else writeCluster(e);
      };
      const wantsProgress = (p: SubjectProgress): boolean =>
        p.subject === 'machine' ? (q.machine === undefined || p.id === q.machine) && (members === null || members.has(p.id)) : q.machine === undefined && (clusterId === null || p.id === clusterId);
      // No id: progress never moves a client's Last-Event-ID, and a resume does not replay it.
      const onProgress = (p: SubjectProgress): void => {
        if (replaying || raw.destroyed || !wantsProgress(p)) return;
        raw.write(`event: progress\ndata: ${JSON.stringify(p)}\n\n`);
      };
      // Subscribed before the replay reads the store, so an event recorded in between is not lost.
      deps.timeline.on('event', onTimeline);
      deps.clusterFeed?.on('event', onCluster);
      const progress = q.progress === true ? deps.progress : undefined;
      progress?.on('progress', onProgress);
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
      raw.once('close', () => {
        streams.delete(raw);
        clearInterval(heartbeat);
        deps.timeline.off('event', onTimeline);
        deps.clusterFeed?.off('event', onCluster);
        progress?.off('progress', onProgress);
      });
      try {
        if (resume === null) sentTimeline = await deps.events.lastId();
        if ((resume === null || resume.cluster === null) && deps.clusterFeed !== undefined) sentCluster = await deps.clusterFeed.lastEventId();
        // Headers only now: a client that sees the stream open misses nothing recorded after.
        raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
        raw.write('retry: 2000\n\n');
        for (let more = resume !== null; more && !raw.destroyed; ) {
          const page = await deps.events.listAfter(sentTimeline, REPLAY_PAGE);
          for (const e of page) writeTimeline(e);
          more = page.length === REPLAY_PAGE;
        }
        const feed = deps.clusterFeed;
        for (let more = resume !== null && resume.cluster !== null; feed !== undefined && more && !raw.destroyed; ) {
          const page = await feed.eventsAfter(sentCluster, REPLAY_PAGE);
          for (const e of page) writeCluster(e);
          more = page.length === REPLAY_PAGE;
        }
        replaying = false;
        for (const w of pending.splice(0)) w();
        // A snapshot of what is in flight now; later changes follow live.
        for (const p of progress?.list() ?? []) onProgress(p);
      } catch (e) {
        req.log.error({ err: e }, 'event stream replay failed');
        raw.destroy();
      }
    },
  );
}
