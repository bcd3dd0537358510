import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchMachines } from '../../server/cli/watch-command.js';
import type { Machine } from '../../server/inventory/machine.js';
import { buildHttpFixture, type HttpFixture } from '../support/http-fixture.js';

// `rackboot watch` on a terminal, against the API over a real socket: the board is redrawn in place
// (cursor up, erase line) with a download's bar, the stage line of a timed state, and Ctrl-C ends it
// with its timers and stream closed.

let f: HttpFixture;
let base: string;
let m: Machine;

beforeAll(async () => {
  f = await buildHttpFixture({ profiles: { p: { kernel: 'k', initrds: ['i'], cmdline: 'x' } }, boot: { defaultProfile: 'p' } });
  await f.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(f.app.server.address() as { port: number }).port}`;
  m = await f.addMachine({ name: 'tty-1', macs: ['52:54:00:00:40:01'] });
});
afterAll(async () => {
  f.progress.close();
  await f.cleanup();
});

/** A terminal-like stream that keeps what was written and wakes waiters. */
function terminal(): { out: NodeJS.WriteStream; text: () => string; until: (re: RegExp) => Promise<void> } {
  let text = '';
  const waiters: Array<() => void> = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      for (const x of waiters.splice(0)) x();
      cb();
    },
  });
  Object.assign(w, { isTTY: true, columns: 160 });
  const until = async (re: RegExp): Promise<void> => {
    while (!re.test(text)) await new Promise<void>((r) => waiters.push(r));
  };
  return { out: w as unknown as NodeJS.WriteStream, text: () => text, until };
}

describe('rackboot watch on a terminal', () => {
  it('redraws the board in place with a download bar, then the stage line, and returns on Ctrl-C', async () => {
    const t = terminal();
    const ctrlC = new AbortController();
    const done = watchMachines({ base, headers: f.auth('viewer') }, { names: ['tty-1'] }, t.out, ctrlC.signal);
    await t.until(/tty-1\s+ready/);
    const h = f.progress.download(m.id, 'initrd', { range: null, bytes: 32 << 20, size: 32 << 20 })!;
    await t.until(/0% initrd 0 B\/32\.0 MiB/);
    h.sent(16 << 20);
    h.end(true);
    await t.until(/\[#{20}\] 100% initrd 32\.0 MiB\/32\.0 MiB done/);
    // Each redraw moves the cursor back over the board and erases to the end of each line.
    expect(t.text()).toContain('\u001b[1A');
    expect(t.text()).toMatch(/initrd 32\.0 MiB\/32\.0 MiB done\s*\u001b\[K/);
    expect((await f.lifecycle.provision(m.id, 'test')).ok).toBe(true);
    await t.until(/tty-1\s+provisioning\s+.*step 3\/12 provisioning, \d+ s of 30 min allowed/);
    ctrlC.abort();
    expect(await done).toBe(0);
  }, 20_000);
});
