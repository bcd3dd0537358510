import type { StoredEvent } from '../store/types.js';
import type { ApiTarget } from './api-client.js';
import { apiOrFail, resolveMachine } from './api-call.js';
import { followStream } from './event-stream.js';
import { oneLine, structured, table, type Column, type OutputFormat } from './output.js';

const EVENT_COLUMNS: Column<StoredEvent>[] = [
  { title: 'id', value: (e) => String(e.id), align: 'right' },
  { title: 'time', value: (e) => e.ts },
  { title: 'source', value: (e) => e.source },
  { title: 'outcome', value: (e) => e.outcome },
  { title: 'step', value: (e) => e.kind },
  { title: 'message', value: (e) => e.message },
];

export interface EventsOptions {
  after: number;
  follow: boolean;
}

/** `rackboot events NAME|ID`: the machine's timeline; with --follow, then its new events as they happen. */
export async function machineEvents(t: ApiTarget, nameOrId: string, o: EventsOptions, format: OutputFormat, out: NodeJS.WritableStream, signal: AbortSignal): Promise<number> {
  const id = await resolveMachine(t, nameOrId);
  let seen = o.after;
  const history = async () => {
    const events: StoredEvent[] = [];
    for (let after = o.after; ; ) {
      const page = await apiOrFail<{ items: StoredEvent[]; next: number }>(t, 'GET', `/api/v1/machines/${id}/events?after=${after}&limit=5000`);
      events.push(...page.items);
      if (page.items.length === 0 || page.next === after) break;
      after = page.next;
    }
    if (events.length > 0) seen = events[events.length - 1]!.id;
    if (format === 'table') out.write(events.length === 0 ? (o.follow ? '' : 'no events\n') : table(events, EVENT_COLUMNS));
    else if (!o.follow) out.write(structured(events, format));
    else for (const e of events) out.write(line(e, format));
  };
  if (!o.follow) {
    await history();
    return 0;
  }
  // History is read once the stream is open, so an event between the two is printed exactly once.
  for await (const msg of followStream(t, '/api/v1/events/stream', signal, history)) {
    if (msg.event !== 'timeline') continue;
    const e = timelineEvent(msg.data);
    if (e === null || e.machineId !== id || e.id <= seen) continue;
    seen = e.id;
    out.write(format === 'table' ? `${String(e.id).padStart(6)}  ${e.ts}  ${e.source}  ${e.outcome}  ${e.kind}  ${oneLine(e.message)}\n` : line(e, format));
  }
  return 0;
}

/** Followed output for scripts is one JSON document per line (or one YAML document each), so it can be read as it arrives. */
function line(e: StoredEvent, format: 'json' | 'yaml'): string {
  return format === 'json' ? `${JSON.stringify(e)}\n` : `---\n${structured(e, 'yaml')}`;
}

/** A machine timeline event from a stream message, or null for anything else the stream carries. */
export function timelineEvent(data: string): StoredEvent | null {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  const e = (o.event !== undefined && typeof o.event === 'object' ? o.event : o) as Partial<StoredEvent>;
  return typeof e.id === 'number' && typeof e.kind === 'string' && typeof e.message === 'string' && typeof e.ts === 'string' ? (e as StoredEvent) : null;
}
