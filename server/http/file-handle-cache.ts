import type { Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

export interface OpenedFile {
  fh: FileHandle;
  stat: Stats;
  /** Every acquire is paired with exactly one release, when the response is done with the handle. */
  release(): void;
}

export type FileOpener = (path: string) => Promise<OpenedFile | null>;

/** Opens a file for one response and closes it on release. */
export const openPerRequest: FileOpener = async (path) => {
  const fh = await open(path, 'r').catch(() => null);
  if (fh === null) return null;
  const stat = await fh.stat();
  let released = false;
  return {
    fh,
    stat,
    release: () => {
      if (!released) (released = true), void fh.close();
    },
  };
};

interface Entry {
  fh: FileHandle;
  stat: Stats;
  refs: number;
  idleSince: number;
}

/**
 * Keeps file handles of immutable files (content-addressed blobs) open across requests: a BMC
 * mounting an ISO issues thousands of Range reads, each of which would otherwise open and stat it.
 * Reads are positional, so one handle serves many streams at once.
 */
export class FileHandleCache {
  private readonly entries = new Map<string, Entry>();
  private readonly opening = new Map<string, Promise<Entry | null>>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly maxIdle = 64,
    private readonly idleMs = 30_000,
  ) {
    this.timer = setInterval(() => void this.sweep(Date.now()), Math.max(1000, idleMs / 2));
    this.timer.unref();
  }

  readonly open: FileOpener = async (path) => {
    const e = this.entries.get(path) ?? (await this.load(path));
    if (e === null) return null;
    e.refs++;
    let released = false;
    return {
      fh: e.fh,
      stat: e.stat,
      release: () => {
        if (released) return;
        released = true;
        e.refs--;
        e.idleSince = Date.now();
        if (this.entries.size > this.maxIdle) void this.sweep(Number.POSITIVE_INFINITY);
      },
    };
  };

  size(): number {
    return this.entries.size;
  }

  /** Closes handles idle since before `now - idleMs`; with Infinity, every idle one. */
  async sweep(now: number): Promise<void> {
    for (const [path, e] of this.entries) {
      if (e.refs === 0 && now - e.idleSince >= this.idleMs) {
        this.entries.delete(path);
        await e.fh.close().catch(() => undefined);
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const e of this.entries.values()) await e.fh.close().catch(() => undefined);
    this.entries.clear();
  }

  private load(path: string): Promise<Entry | null> {
    let p = this.opening.get(path);
    if (p === undefined) {
      p = (async () => {
        const fh = await open(path, 'r').catch(() => null);
        if (fh === null) return null;
        const e: Entry = { fh, stat: await fh.stat(), refs: 0, idleSince: Date.now() };
        this.entries.set(path, e);
        return e;
      })().finally(() => this.opening.delete(path));
      this.opening.set(path, p);
    }
    return p;
  }
}
