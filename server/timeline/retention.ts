import type { Logger } from 'pino';
import type { EventRepo } from '../store/types.js';

/** Rows deleted per statement, so a large backlog never holds the store's write lock for long. */
const BATCH = 5000;
const HOUR_MS = 3_600_000;

/**
 * Deletes timeline events older than `days` (their lifecycle changes excepted: they are each
 * machine's state history). Returns how many went.
 */
export async function pruneTimeline(events: EventRepo, days: number, now: number): Promise<number> {
  if (days === 0) return 0;
  const before = new Date(now - days * 24 * HOUR_MS).toISOString();
  let total = 0;
  for (;;) {
    const n = await events.pruneBefore(before, BATCH);
    total += n;
    if (n < BATCH) return total;
    // Lets packets and API calls in between batches.
    await new Promise((r) => setImmediate(r));
  }
}

/** Prunes at start and every hour after; the returned function stops it once a prune under way has ended. */
export function startTimelineRetention(events: EventRepo, days: number, log: Logger): () => Promise<void> {
  if (days === 0) return async () => undefined;
  let running: Promise<void> = Promise.resolve();
  // Each prune waits for the one before, so a long backlog never runs twice at once.
  const run = () => {
    running = running.then(() => pruneTimeline(events, days, Date.now())).then(
      (n) => {
        if (n > 0) log.info({ deleted: n, olderThanDays: days }, 'pruned old timeline events');
      },
      (err: unknown) => log.error({ err }, 'timeline retention failed'),
    );
  };
  run();
  const timer = setInterval(run, HOUR_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
