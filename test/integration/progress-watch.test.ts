import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubjectProgress } from '../../server/progress/progress-board.js';
import { CLI, NETBOOT_PROFILE, startRackbootProcess, TSX, type RackbootProcess } from '../support/rackboot-process.js';
import { openSse, type SseConnection } from '../support/sse-client.js';

// Byte progress of a machine's download, end to end over real sockets: a real `rackboot serve`, a
// machine fetching a large file through its boot URL at a slow reader's pace, the event stream's
// `event: progress` messages, GET /api/v1/progress, and `rackboot watch` printing the bar to a pipe.

const MiB = 1 << 20;
const SIZE = 64 * MiB;

let rb: RackbootProcess;
let machine: { id: string; tokenGeneration: number };
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  rb = await startRackbootProcess({ boot: { defaultProfile: 'appliance' }, profiles: { appliance: NETBOOT_PROFILE } });
  const created = await rb.api<{ id: string; tokenGeneration: number }>('POST', '/api/v1/machines', { name: 'dl-1', macs: ['02:00:00:00:20:01'] });
  expect(created.status).toBe(201);
  machine = created.body;
  mkdirSync(join(rb.dataDir, 'artifacts'), { recursive: true });
  const data = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i += 4096) data.writeUInt32BE(i, i);
  writeFileSync(join(rb.dataDir, 'artifacts', 'big.bin'), data);
}, 120_000);

afterAll(async () => {
  for (const c of cleanups.splice(0)) c();
  await rb?.stop();
});

/** Reads a response at a slow reader's pace (pausing after every 4 MiB), so the transfer takes a few seconds. */
function slowRead(res: IncomingMessage): Promise<number> {
  return new Promise((ok, fail) => {
    let got = 0;
    let mark = 0;
    res.on('data', (d: Buffer) => {
      got += d.length;
      if (got - mark >= 4 * MiB) {
        mark = got;
        res.pause();
        const t = setTimeout(() => res.resume(), 200);
        cleanups.push(() => clearTimeout(t));
      }
    });
    res.once('end', () => ok(got));
    res.once('error', fail);
  });
}

function get(url: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((ok, fail) => httpGet(url, { headers }, ok).on('error', fail));
}

async function until(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out; saw:\n${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('download progress', () => {
  it('streams increasing progress of a boot-URL download to 100%, serves it, and rackboot watch prints it to a pipe', async () => {
    const auth = { authorization: `Bearer ${rb.adminToken()!}` };
    let sse: SseConnection | null = null;
    let watch: ChildProcess | null = null;
    let jsonWatch: ChildProcess | null = null;
    try {
      // The same watch for scripts: every stream message as one JSON line.
      jsonWatch = spawn(TSX, [CLI, 'watch', 'dl-1', '-o', 'json', '--server', rb.baseUrl, '--config', rb.configFile], { env: { ...process.env, RACKBOOT_TOKEN: '' } });
      const jw = jsonWatch;
      let jsonOut = '';
      jw.stdout!.on('data', (d: Buffer) => (jsonOut += d.toString()));
      jw.stderr!.on('data', (d: Buffer) => (jsonOut += d.toString()));
      const jsonExited = new Promise<number | null>((ok) => jw.on('exit', ok));
      // Up to five reconnects two seconds apart before it gives up; none may hang.
      // `rackboot watch` with stdout a pipe (not a terminal): one plain line per change.
      watch = spawn(TSX, [CLI, 'watch', 'dl-1', '--server', rb.baseUrl, '--config', rb.configFile], { env: { ...process.env, RACKBOOT_TOKEN: '' } });
      const w = watch;
      let out = '';
      w.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      w.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((ok) => w.on('exit', ok));
      await until(() => /dl-1\s+ready/.test(out) || w.exitCode !== null, 60_000, () => out);
      expect(w.exitCode, out).toBeNull();
      // Its first line is the board it starts from, read once its stream is open.
      await until(() => /^\{"event":"snapshot"/.test(jsonOut) || jw.exitCode !== null, 60_000, () => jsonOut);
      expect((JSON.parse(jsonOut.split('\n')[0]!) as { data: { machines: Array<{ name: string }> } }).data.machines.map((m) => m.name)).toEqual(['dl-1']);

      sse = await openSse(`${rb.baseUrl}/api/v1/events/stream?progress=true&machine=${machine.id}`, auth);
      expect(sse.status).toBe(200);
      const res = await get(rb.bootUrl(machine, '/files/big.bin'));
      expect(res.statusCode).toBe(200);
      expect(await slowRead(res)).toBe(SIZE);

      const conn = sse;
      const downloads = () =>
        conn.messages
          .filter((m) => m.event === 'progress')
          .map((m) => JSON.parse(m.data) as SubjectProgress)
          .flatMap((p) => p.transfers.filter((t) => t.label === 'big.bin'));
      await until(() => downloads().some((t) => t.status === 'done'), 30_000, () => JSON.stringify(conn.messages));
      // Progress messages carry no id: they never move a client's resume point.
      expect(conn.messages.filter((m) => m.event === 'progress').every((m) => m.id === null)).toBe(true);
      const seen = downloads();
      const dones = seen.map((t) => t.done);
      for (let i = 1; i < dones.length; i++) expect(dones[i]!, JSON.stringify(dones)).toBeGreaterThanOrEqual(dones[i - 1]!);
      expect(dones[0]).toBe(0);
      expect(dones.some((d) => d > 0 && d < SIZE), `an update between start and end: ${JSON.stringify(dones)}`).toBe(true);
      expect(seen.at(-1)).toMatchObject({ direction: 'download', measure: 'sent', done: SIZE, total: SIZE, status: 'done' });

      // The same, as current state.
      const now = await rb.api<{ items: SubjectProgress[] }>('GET', `/api/v1/progress?machine=${machine.id}`);
      expect(now.status).toBe(200);
      expect(now.body.items).toHaveLength(1);
      expect(now.body.items[0]!.transfers[0]).toMatchObject({ label: 'big.bin', done: SIZE, status: 'done' });

      // The watch printed the bar part-way and at 100%.
      await until(() => /dl-1\s+ready\s+.*\[#{20}\] 100% big\.bin 64\.0 MiB\/64\.0 MiB done/.test(out), 30_000, () => out);
      const partial = [...out.matchAll(/\[[#.]{20}\]\s+(\d+)% big\.bin [\d.]+ [KMG]?i?B\/64\.0 MiB/g)].map((m) => Number(m[1]));
      expect(partial[0], out).toBe(0);
      expect(partial.some((p) => p > 0 && p < 100), out).toBe(true);

      // An install stage has no bytes (the finished download is dropped on the move): the ladder step and the time used of the stage's limit.
      expect((await fetch(rb.bootUrl(machine, '/script.ipxe'))).status).toBe(200);
      await until(() => /dl-1\s+booting-installer\s+.*\[#+\.+\]\s+\d+% step 4\/12 booting-installer, \d+ s of 20 min allowed/.test(out), 30_000, () => out);

      // A BMC's Range reads count the distinct bytes of the file read, re-reads once.
      for (const range of ['bytes=0-1048575', 'bytes=1048576-2097151', 'bytes=0-2097151']) {
        const r = await get(rb.bootUrl(machine, '/files/big.bin'), { range });
        expect(r.statusCode).toBe(206);
        r.resume();
        await new Promise((ok) => r.once('end', ok));
      }
      await until(() => downloads().some((t) => t.measure === 'distinct' && t.done === 2 * MiB), 30_000, () => JSON.stringify(downloads()));
      const ranged = (await rb.api<{ items: SubjectProgress[] }>('GET', `/api/v1/progress?machine=${machine.id}`)).body.items[0]!.transfers[0]!;
      expect(ranged).toMatchObject({ measure: 'distinct', done: 2 * MiB, total: SIZE, status: 'running' });

      const messages = jsonOut
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event: string; id: string | null; data: SubjectProgress & { kind?: string } });
      const done = messages.find((m) => m.event === 'progress' && m.data.transfers.some((t) => t.label === 'big.bin' && t.status === 'done'));
      expect(done, jsonOut).toMatchObject({ event: 'progress', id: null });
      expect(messages.some((m) => m.event === 'timeline' && m.data.kind === 'artifact.fetched' && typeof m.id === 'string'), jsonOut).toBe(true);

      // Ctrl-C: 130. A server that goes away: the stream cannot be reopened, watch says so and exits 1.
      w.kill('SIGINT');
      expect(await exited).toBe(130);
      sse.close();
      await rb.stop();
      expect(await jsonExited).toBe(1);
      expect(jsonOut).toMatch(/lost the event stream of http:\/\/127\.0\.0\.1:\d+/);
    } finally {
      sse?.close();
      if (watch !== null && watch.exitCode === null) watch.kill('SIGTERM');
      if (jsonWatch !== null && jsonWatch.exitCode === null) jsonWatch.kill('SIGTERM');
    }
  }, 180_000);
});
