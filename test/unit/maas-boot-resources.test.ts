import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  bytesFromProgress,
  checkSchema,
  deployMachine,
  hashFile,
  listBootResources,
  readBootResource,
  uploadBootResourceContent,
  uploadCustomImage,
  type MaasResult,
  type UploadProgress,
} from '../../maas/index.js';
import { BootResourceSchema } from '../../maas/schema.js';
import { createMaasStandin, type MaasStandin } from '../support/maas-standin/index.js';
import { clientFor, errorFixture, maasFixture } from '../support/maas-standin/testkit.js';

const MiB = 1024 * 1024;

function value<T>(r: MaasResult<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.value;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let s: MaasStandin;
let dir: string;
beforeAll(async () => {
  s = await createMaasStandin();
  dir = mkdtempSync(join(tmpdir(), 'rb-maas-img-'));
});
afterAll(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => s.faults.clear());

let n = 0;
/** A random "image" of the given size on disk. */
function image(size: number): { path: string; data: Buffer } {
  const data = randomBytes(size);
  const path = join(dir, `kairos-${++n}.raw.gz`);
  writeFileSync(path, data);
  return { path, data };
}

const uploadPuts = (from: number) => s.requests.slice(from).filter((r) => r.method === 'PUT' && /upload/.test(r.path));

describe('ddgz upload', () => {
  it('creates the resource with sha256 and size, PUTs 1 MiB chunks, reports progress and completes', async () => {
    const img = image(10 * MiB + 12_345);
    const { client } = clientFor(s);
    const progress: UploadProgress[] = [];
    const from = s.requests.length;
    const r = value(
      await uploadCustomImage(client, {
        path: img.path,
        name: 'custom/kairos-v1',
        title: 'Kairos appliance v1',
        architecture: 'amd64/generic',
        base_image: 'ubuntu/noble',
        chunkSize: MiB,
        onProgress: (p) => progress.push(p),
      }),
    );
    expect(r).toMatchObject({ sha256: sha(img.data), size: img.data.length, alreadyComplete: false, startedFrom: 0, resumes: 0, chunksSent: 11 });

    const create = s.requests.slice(from).find((q) => q.method === 'POST' && q.path === 'boot-resources/')!;
    expect(create.form).toEqual([
      ['name', 'custom/kairos-v1'],
      ['architecture', 'amd64/generic'],
      ['title', 'Kairos appliance v1'],
      ['filetype', 'ddgz'],
      ['base_image', 'ubuntu/noble'],
      ['sha256', sha(img.data)],
      ['size', String(img.data.length)],
    ]);
    const puts = uploadPuts(from);
    expect(puts.map((p) => p.bodyBytes)).toEqual([...Array(10).fill(MiB), 12_345]);
    expect(puts.every((p) => p.contentType === 'application/octet-stream' && p.status === 200)).toBe(true);

    const sent = progress.filter((p) => p.phase === 'uploading').map((p) => p.bytesSent);
    expect(sent[0]).toBe(0);
    expect(sent[sent.length - 1]).toBe(img.data.length);
    expect(sent).toEqual([...sent].sort((x, y) => x - y));
    expect(progress[progress.length - 1]).toEqual({ phase: 'complete', bytesSent: img.data.length, totalBytes: img.data.length });

    expect(sha(s.assembled(r.resourceId)!)).toBe(sha(img.data));
    const res = value(await readBootResource(client, r.resourceId));
    expect(res).toMatchObject({ type: 'Uploaded', name: 'kairos-v1', architecture: 'amd64/generic', title: 'Kairos appliance v1', base_image: 'ubuntu/noble' });
    const files = Object.values(res.sets!).flatMap((set) => Object.values(set.files));
    expect(files).toEqual([{ filename: 'root-dd.gz', filetype: 'root-dd.gz', sha256: sha(img.data), filename_on_disk: sha(img.data).slice(0, 7), size: img.data.length, complete: true }]);
    // Listed without the custom/ prefix, and now deployable as custom/<name>.
    expect(value(await listBootResources(client, { type: 'uploaded' })).map((x) => x.name)).toContain('kairos-v1');
    const m = s.addMachine();
    expect(value(await deployMachine(client, m.system_id, { distro_series: 'custom/kairos-v1' }))).toMatchObject({ osystem: 'custom', distro_series: 'kairos-v1' });
    client.close();
  });

  it('reports MAAS progress as a percentage while incomplete (what resume reads)', async () => {
    const img = image(3 * MiB);
    const { client } = clientFor(s);
    s.faults.dropUpload({ when: 'before-store', afterChunks: 2 });
    const r = await uploadCustomImage(client, { path: img.path, name: 'custom/partial', architecture: 'amd64/generic', chunkSize: MiB, maxResumes: 0 });
    expect(r.ok ? null : r.error.code).toBe('RB_MAAS_UPLOAD');
    const res = value(await listBootResources(client, { type: 'uploaded' })).find((x) => x.name === 'partial')!;
    const full = value(await readBootResource(client, res.id));
    const file = Object.values(Object.values(full.sets!)[0]!.files)[0]!;
    expect(file.complete).toBe(false);
    expect(file.progress).toBeCloseTo((100 * 2) / 3, 10);
    expect(file.upload_uri).toBe(`/MAAS/api/2.0/boot-resources/${res.id}/upload/${/upload\/(\d+)\//.exec(file.upload_uri!)![1]}/`);
    expect(bytesFromProgress(file.progress!, file.size)).toBe(2 * MiB);
    client.close();
  });

  it('resumes after the connection drops mid-chunk (chunk not stored): re-reads progress and resends it', async () => {
    const img = image(6 * MiB + 7);
    const { client, sleeps } = clientFor(s);
    s.faults.dropUpload({ when: 'before-store', afterChunks: 3 });
    const progress: UploadProgress[] = [];
    const from = s.requests.length;
    const r = value(await uploadCustomImage(client, { path: img.path, name: 'custom/drop-before', architecture: 'amd64/generic', chunkSize: MiB, onProgress: (p) => progress.push(p) }));
    expect(r).toMatchObject({ resumes: 1, chunksSent: 7 });
    expect(sleeps).toHaveLength(1);
    const puts = uploadPuts(from);
    expect(puts.map((p) => p.dropped === true)).toEqual([false, false, false, true, false, false, false, false]);
    // After the drop the client asked MAAS how much it holds before sending on.
    const afterDrop = s.requests.slice(s.requests.indexOf(puts[3]!) + 1);
    expect(afterDrop[0]).toMatchObject({ method: 'GET', path: `boot-resources/${r.resourceId}/` });
    expect(progress).toContainEqual({ phase: 'uploading', bytesSent: 3 * MiB, totalBytes: img.data.length, resumedFrom: 3 * MiB });
    expect(sha(s.assembled(r.resourceId)!)).toBe(sha(img.data));
    client.close();
  });

  it('resumes after the connection drops once MAAS stored the chunk: does not send it twice', async () => {
    const img = image(5 * MiB);
    const { client } = clientFor(s);
    s.faults.dropUpload({ when: 'after-store', afterChunks: 2 });
    const from = s.requests.length;
    const r = value(await uploadCustomImage(client, { path: img.path, name: 'custom/drop-after', architecture: 'amd64/generic', chunkSize: MiB }));
    expect(r.resumes).toBe(1);
    const puts = uploadPuts(from);
    expect(puts).toHaveLength(5);
    expect(puts[2]!.dropped).toBe(true);
    expect(sha(s.assembled(r.resourceId)!)).toBe(sha(img.data));
    client.close();
  });

  it('continues an upload left unfinished by an earlier call instead of creating a new one', async () => {
    const img = image(4 * MiB + 99);
    const { client } = clientFor(s);
    s.faults.dropUpload({ when: 'before-store', afterChunks: 2 });
    const first = await uploadCustomImage(client, { path: img.path, name: 'custom/two-calls', architecture: 'amd64/generic', chunkSize: MiB, maxResumes: 0 });
    expect(first.ok ? null : first.error.message).toMatch(/interrupted 1 times, giving up at byte 2097152/);

    const from = s.requests.length;
    const progress: UploadProgress[] = [];
    const second = value(await uploadCustomImage(client, { path: img.path, name: 'custom/two-calls', architecture: 'amd64/generic', chunkSize: MiB, onProgress: (p) => progress.push(p) }));
    expect(second).toMatchObject({ startedFrom: 2 * MiB, resumes: 0, chunksSent: 3 });
    expect(s.requests.slice(from).some((q) => q.method === 'POST' && q.path === 'boot-resources/')).toBe(false);
    expect(progress.find((p) => p.phase === 'uploading')).toEqual({ phase: 'uploading', bytesSent: 2 * MiB, totalBytes: img.data.length, resumedFrom: 2 * MiB });
    expect(sha(s.assembled(second.resourceId)!)).toBe(sha(img.data));

    // A third call finds the file complete and sends nothing.
    const again = s.requests.length;
    expect(value(await uploadCustomImage(client, { path: img.path, name: 'custom/two-calls', architecture: 'amd64/generic' }))).toMatchObject({ alreadyComplete: true, chunksSent: 0 });
    expect(uploadPuts(again)).toHaveLength(0);
    client.close();
  });

  it('rides out a MAAS restart in the middle of the upload', async () => {
    const img = image(5 * MiB);
    let stopping: Promise<void> | null = null;
    const { client } = clientFor(s, {
      onSleep: async () => {
        if (stopping !== null) {
          await stopping;
          stopping = null;
          await s.start();
        }
      },
    });
    const r = value(
      await uploadCustomImage(client, {
        path: img.path,
        name: 'custom/restart',
        architecture: 'amd64/generic',
        chunkSize: MiB,
        onProgress: (p) => {
          if (p.phase === 'uploading' && p.bytesSent === 2 * MiB && stopping === null && p.resumedFrom === undefined) stopping = s.stop();
        },
      }),
    );
    expect(r.resumes).toBeGreaterThanOrEqual(1);
    expect(sha(s.assembled(r.resourceId)!)).toBe(sha(img.data));
    client.close();
  });

  it('fails with RB_MAAS_UPLOAD when MAAS rejects the checksum', async () => {
    const img = image(2 * MiB);
    const { client } = clientFor(s);
    const r = await uploadCustomImage(client, { path: img.path, name: 'custom/bad-sha', architecture: 'amd64/generic', chunkSize: MiB, sha256: 'f'.repeat(64) });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('RB_MAAS_UPLOAD');
      expect(r.error.body).toBe(errorFixture('upload-chunk-bad-hash').body);
    }
    client.close();
  });

  it('uploads a small image in one multipart request (content=@file)', async () => {
    const img = image(300_000);
    const { client } = clientFor(s);
    const res = value(await uploadBootResourceContent(client, { path: img.path, name: 'custom/oneshot', architecture: 'amd64/generic', filetype: 'ddgz' }));
    expect(s.requests[s.requests.length - 1]!.contentType).toMatch(/^multipart\/form-data; boundary=/);
    const file = Object.values(Object.values(res.sets!)[0]!.files)[0]!;
    expect(file).toMatchObject({ sha256: sha(img.data), size: img.data.length, complete: true });
    expect(sha(s.assembled(res.id)!)).toBe(sha(img.data));
    expect(value(await hashFile(img.path))).toEqual({ sha256: sha(img.data), size: img.data.length });
    client.close();
  });
});

describe('progress arithmetic and shapes', () => {
  it('recovers exact byte counts from MAAS percentages (100.0 * held / (size * regions))', () => {
    let seed = 12345;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 20_000; i++) {
      const size = 1 + Math.floor(rnd() * 20 * 1024 ** 3);
      const held = Math.floor(rnd() * size);
      const regions = 1 + Math.floor(rnd() * 3);
      const progress = (100.0 * held) / (size * regions);
      expect(bytesFromProgress(progress, size, regions)).toBe(held);
    }
    expect(bytesFromProgress(0, 10)).toBe(0);
    expect(bytesFromProgress(100, 10)).toBe(10);
  });

  it("validates MAAS's and gomaasclient's boot-resource samples against the schema", () => {
    expect(checkSchema(BootResourceSchema, maasFixture('boot-resource-complete.gomaasclient.json'), 'boot resource').ok).toBe(true);
    expect(checkSchema(BootResourceSchema, maasFixture('boot-resource-create.maas-example.json'), 'boot resource').ok).toBe(true);
  });
});
