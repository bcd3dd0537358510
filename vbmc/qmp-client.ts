// QMP (QEMU Machine Protocol) over a unix socket: read the greeting, negotiate with
// qmp_capabilities, then send commands tagged with ids and match the replies by id. Asynchronous
// events (SHUTDOWN, RESET, POWERDOWN, ...) are emitted as 'event'. Line-delimited JSON both ways.

import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export class QmpError extends Error {
  constructor(
    message: string,
    readonly qmpClass?: string,
  ) {
    super(message);
    this.name = 'QmpError';
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  command: string;
}

export class QmpClient extends EventEmitter {
  private socket: Socket | undefined;
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private greeting: ((v: Record<string, unknown>) => void) | undefined;
  private closedFlag = false;
  /** QEMU version from the greeting. */
  version: { major: number; minor: number; micro: number } | undefined;

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Connects, reads the greeting and leaves capabilities negotiation mode. */
  async connect(path: string, timeoutMs = 10_000): Promise<void> {
    const socket = createConnection(path);
    this.socket = socket;
    socket.setEncoding('utf8');
    const greeted = new Promise<Record<string, unknown>>((resolve) => {
      this.greeting = resolve;
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => this.onClose());
    socket.on('error', () => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new QmpError(`no QMP greeting on ${path} within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const g = await Promise.race([greeted, timeout]);
      const v = (g['QMP'] as { version?: { qemu?: { major: number; minor: number; micro: number } } } | undefined)?.version?.qemu;
      if (v !== undefined) this.version = v;
    } finally {
      clearTimeout(timer);
    }
    await this.execute('qmp_capabilities');
  }

  /** Runs one command; resolves with its `return` value, rejects with the QMP error. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.socket === undefined || this.closedFlag) return Promise.reject(new QmpError(`QMP connection closed (${command})`));
    const id = `vbmc-${this.nextId++}`;
    const msg = JSON.stringify(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id });
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, command });
      this.socket!.write(`${msg}\n`);
    });
  }

  /** Resolves with the next event of that name (or rejects when the connection closes first). */
  waitForEvent(name: string, timeoutMs: number): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const onEvent = (e: QmpEvent) => {
        if (e.event !== name) return;
        cleanup();
        resolve(e);
      };
      const onClose = () => {
        cleanup();
        reject(new QmpError(`QMP closed before ${name}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new QmpError(`no ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      this.on('event', onEvent);
      this.once('close', onClose);
    });
  }

  close(): void {
    this.socket?.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      const nl = this.buffer.indexOf('\n');
      if (nl < 0) break;
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line === '') continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue; // QEMU only writes JSON here; a torn line cannot be acted on
      }
      this.dispatch(msg);
    }
  }

  private dispatch(msg: Record<string, unknown>): void {
    if ('QMP' in msg) {
      this.greeting?.(msg);
      this.greeting = undefined;
      return;
    }
    if (typeof msg['event'] === 'string') {
      this.emit('event', msg as unknown as QmpEvent);
      return;
    }
    const id = typeof msg['id'] === 'string' ? msg['id'] : undefined;
    const p = id === undefined ? undefined : this.pending.get(id);
    if (p === undefined || id === undefined) return;
    this.pending.delete(id);
    if ('error' in msg) {
      const e = msg['error'] as { class?: string; desc?: string };
      p.reject(new QmpError(`QMP ${p.command}: ${e.desc ?? 'error'}`, e.class));
    } else p.resolve(msg['return']);
  }

  private onClose(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const p of this.pending.values()) p.reject(new QmpError(`QMP connection closed during ${p.command}`));
    this.pending.clear();
    this.emit('close');
  }
}
