// A cluster's content upload as live progress, end to end: rackboot in process forming a one-node
// cluster against the Local Management API stand-in (HTTPS on loopback), the first upload attempt
// dropped part-way. The event stream's `event: progress` shows one bar per attempt (the first
// failed, the second climbing to the bundle size), GET /api/v1/progress keeps the last, and
// `rackboot watch` (piped) prints the cluster's line with the formation step and the upload bar.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubjectProgress } from '../../server/progress/progress-board.js';
import { startEnrollmentLab, waitForCluster, type EnrollmentLab } from '../support/enrollment-harness.js';
import { CLI, TSX } from '../support/rackboot-process.js';
import { openSse, type SseConnection } from '../support/sse-client.js';

let lab: EnrollmentLab;
let token: string;

beforeAll(async () => {
  lab = await startEnrollmentLab({ hosts: 1, base: 51, bundleBytes: 24 * 1024 * 1024 });
  token = readFileSync(join(lab.dir, 'data', 'admin.token'), 'utf8').trim();
}, 120_000);
afterAll(async () => lab?.close());

async function until(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out; saw:\n${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('cluster upload progress', () => {
  it('streams one upload bar per attempt to the bundle size, and rackboot watch prints the cluster line', async () => {
    const size = statSync(lab.bundle).size;
    let sse: SseConnection | null = null;
    let watch: ChildProcess | null = null;
    try {
      watch = spawn(TSX, [CLI, 'watch', '--server', lab.api, '--token', token], { env: { ...process.env, RACKBOOT_TOKEN: '' } });
      const w = watch;
      let out = '';
      w.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      w.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((ok) => w.on('exit', ok));
      await until(() => /node-edge-1\s+installed/.test(out) || w.exitCode !== null, 60_000, () => out);
      expect(w.exitCode, out).toBeNull();
      sse = await openSse(`${lab.api}/api/v1/events/stream?progress=true`, { authorization: `Bearer ${token}` });
      expect(sse.status).toBe(200);

      lab.rack.hosts[0]!.failNext('V1ContentUpload', { status: 0, dropAfterBytes: 8 * 1024 * 1024 });
      const created = await lab.call('POST', '/api/v1/clusters', { name: 'solo', controlPlane: [lab.machines[0]!.name], vip: '192.0.2.151', contentBundle: lab.bundle });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      expect((await waitForCluster(lab, id)).state).toBe('enrolled');

      const conn = sse;
      const uploads = () =>
        conn.messages
          .filter((m) => m.event === 'progress')
          .map((m) => JSON.parse(m.data) as SubjectProgress)
          .filter((p) => p.subject === 'cluster' && p.id === id)
          .map((p) => p.transfers[0]!);
      await until(() => uploads().some((t) => t.attempt === 2 && t.status === 'done'), 30_000, () => JSON.stringify(conn.messages));
      const seen = uploads();
      const first = seen.filter((t) => t.attempt === 1);
      expect(first[0]).toMatchObject({ direction: 'upload', label: 'core-content.tar.zst', done: 0, total: size, status: 'running' });
      expect(first.at(-1)!.status).toBe('failed');
      expect(first.at(-1)!.done).toBeLessThan(size);
      const second = seen.filter((t) => t.attempt === 2);
      expect(second[0]!.done).toBe(0);
      for (let i = 1; i < second.length; i++) expect(second[i]!.done).toBeGreaterThanOrEqual(second[i - 1]!.done);
      expect(second.at(-1)).toMatchObject({ done: size, total: size, status: 'done' });
      // The attempts follow each other: nothing of attempt 1 after attempt 2 began.
      expect(seen.findIndex((t) => t.attempt === 2)).toBeGreaterThan(seen.findLastIndex((t) => t.attempt === 1));

      const now = await lab.call('GET', `/api/v1/progress?cluster=${id}`);
      expect(now.status).toBe(200);
      expect(now.body.items[0].transfers[0]).toMatchObject({ attempt: 2, done: size, status: 'done' });

      // The piped watch: the cluster's line with its formation step, then the upload's bar and retry.
      await until(() => /cluster solo\s+enrolled/.test(out), 30_000, () => out);
      expect(out).toMatch(/cluster solo\s+forming\s+content-upload\s+\[[#.]{20}\]\s+\d+% upload core-content\.tar\.zst [\d.]+ [KM]?i?B\/24\.0 MiB/);
      expect(out).toMatch(/cluster solo\s+forming\s+content-upload\s+\[#{20}\] 100% upload core-content\.tar\.zst 24\.0 MiB\/24\.0 MiB attempt 2 done/);
      expect(out).toMatch(/upload core-content\.tar\.zst .* failed/);
      w.kill('SIGINT');
      expect(await exited).toBe(130);
    } finally {
      sse?.close();
      if (watch !== null && watch.exitCode === null) watch.kill('SIGTERM');
    }
  }, 180_000);
});
