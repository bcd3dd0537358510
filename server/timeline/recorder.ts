import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { EventRepo, NewEvent, StoredEvent } from '../store/types.js';

/**
 * The single way protocol handlers report what happened to a machine. Recording never throws into
 * the packet path: a store failure is logged and the event is dropped, the reply still goes out.
 */
export class Timeline extends EventEmitter<{ event: [StoredEvent] }> {
  constructor(
    private readonly repo: EventRepo,
    private readonly log: Logger,
  ) {
    super();
  }

  async record(ev: NewEvent): Promise<void> {
    try {
      const stored = await this.repo.append(ev);
      this.emit('event', stored);
      this.log.debug({ event: stored }, ev.message);
    } catch (e) {
      this.log.error({ err: e, event: ev }, 'could not record timeline event');
    }
  }
}
