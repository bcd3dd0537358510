// `GET /events/?op=query` (canonical/maas src/maasserver/api/events.py). Pages hold at most `limit`
// events (default 100, maximum 1000), newest first. Cursors are event ids: `before=X` gives the newest
// events older than X; `after=X` gives the OLDEST `limit` events newer than X (still listed newest
// first). MAAS refuses both at once. `level` is a minimum (default INFO; AUDIT is its own stream).

import type { MaasClient } from './client.js';
import { fail, ok, type MaasResult } from './errors.js';
import { EventsPageSchema, type MaasEvent, type MaasEventsPage } from './schema.js';

type OneOrMany<T> = T | readonly T[];

export type MaasEventLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL' | 'AUDIT';

export const MAX_EVENTS_PER_PAGE = 1000;

export interface EventFilter {
  /** System ids. */
  id?: OneOrMany<string>;
  hostname?: OneOrMany<string>;
  mac_address?: OneOrMany<string>;
  zone?: OneOrMany<string>;
  agent_name?: OneOrMany<string>;
  owner?: string;
  level?: MaasEventLevel;
}

export interface EventQuery extends EventFilter {
  limit?: number;
  after?: number;
  before?: number;
}

/** One page, as MAAS returns it. */
export function queryEvents(client: MaasClient, q: EventQuery = {}): Promise<MaasResult<MaasEventsPage>> {
  if (q.after !== undefined && q.before !== undefined) {
    return Promise.resolve(
      fail({ code: 'RB_MAAS_BAD_REQUEST', message: 'events query: MAAS refuses `after` and `before` together', path: 'events/', op: 'query' }),
    );
  }
  return client.json(
    {
      method: 'GET',
      path: 'events/',
      op: 'query',
      query: {
        id: q.id,
        hostname: q.hostname,
        mac_address: q.mac_address,
        zone: q.zone,
        agent_name: q.agent_name,
        owner: q.owner,
        level: q.level,
        limit: q.limit,
        after: q.after,
        before: q.before,
      },
    },
    EventsPageSchema,
    'events page',
  );
}

export interface CollectOptions {
  /**
   * 'newer' walks forward from `after` (default 0: the very first event) until MAAS has nothing
   * newer; 'older' walks back from `before` (default: the newest event) until nothing is older.
   */
  direction?: 'newer' | 'older';
  after?: number;
  before?: number;
  /** Events per request, 1..1000. Default 100. */
  pageSize?: number;
  /** Upper bound on requests. Default 50. */
  maxPages?: number;
}

export interface CollectedEvents {
  /** Ascending by id, without duplicates. */
  events: MaasEvent[];
  /** Highest id seen (or the starting `after`), the cursor for the next tail. */
  newestId: number | null;
  oldestId: number | null;
  pages: number;
  /** True when maxPages stopped the walk before MAAS ran out of events. */
  truncated: boolean;
}

/** Pages with cursors until MAAS has no more events in that direction, bounded by maxPages. */
export async function collectEvents(client: MaasClient, filter: EventFilter = {}, opts: CollectOptions = {}): Promise<MaasResult<CollectedEvents>> {
  const direction = opts.direction ?? (opts.before !== undefined ? 'older' : 'newer');
  const pageSize = Math.min(MAX_EVENTS_PER_PAGE, Math.max(1, Math.floor(opts.pageSize ?? 100)));
  const maxPages = Math.max(1, Math.floor(opts.maxPages ?? 50));
  const seen = new Map<number, MaasEvent>();
  let cursor: number | undefined = direction === 'newer' ? (opts.after ?? 0) : opts.before;
  let pages = 0;
  let truncated = false;
  for (;;) {
    if (pages >= maxPages) {
      truncated = true;
      break;
    }
    const q: EventQuery = { ...filter, limit: pageSize };
    if (direction === 'newer') q.after = cursor;
    else if (cursor !== undefined) q.before = cursor;
    const page = await queryEvents(client, q);
    if (!page.ok) return page;
    pages++;
    for (const e of page.value.events) seen.set(e.id, e);
    if (page.value.events.length === 0) break;
    const ids = page.value.events.map((e) => e.id);
    const next = direction === 'newer' ? Math.max(...ids) : Math.min(...ids);
    // A page shorter than asked for is the last one; a cursor that does not move would loop forever.
    if (page.value.events.length < pageSize || next === cursor) break;
    cursor = next;
  }
  const events = [...seen.values()].sort((a, b) => a.id - b.id);
  const newest = events.length > 0 ? events[events.length - 1]!.id : direction === 'newer' ? (opts.after ?? null) : null;
  return ok({ events, newestId: newest, oldestId: events.length > 0 ? events[0]!.id : null, pages, truncated });
}

/** Convenience for a poller: everything newer than `lastId`, and the cursor to pass next time. */
export async function tailEvents(
  client: MaasClient,
  filter: EventFilter,
  lastId: number,
  opts: Omit<CollectOptions, 'direction' | 'after' | 'before'> = {},
): Promise<MaasResult<{ events: MaasEvent[]; lastId: number; truncated: boolean }>> {
  const r = await collectEvents(client, filter, { ...opts, direction: 'newer', after: lastId });
  if (!r.ok) return r;
  return ok({ events: r.value.events, lastId: r.value.newestId ?? lastId, truncated: r.value.truncated });
}
