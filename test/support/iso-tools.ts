// Test helpers around the external ISO tools (xorriso, osirrox, mformat): build images from a
// source tree in a temp dir, list and extract them the way another implementation sees them, and
// hash files and streams. Nothing here mounts anything or needs root.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

export async function runOk(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `rackboot-${prefix}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A fixed, second-precision time for every source file, so mtimes can be compared. */
export const SOURCE_TIME = new Date('2021-03-04T05:06:07Z');

export type TreeSpec = Record<string, Buffer | string | { symlink: string }>;

/** Writes files (and symlinks) under root; parents are created; times set to SOURCE_TIME. */
export async function writeTree(root: string, spec: TreeSpec): Promise<void> {
  const dirs = new Set<string>();
  for (const [rel, content] of Object.entries(spec)) {
    const p = join(root, rel);
    await mkdir(dirname(p), { recursive: true });
    dirs.add(dirname(p));
    if (typeof content === 'object' && !Buffer.isBuffer(content)) await symlink(content.symlink, p);
    else {
      await writeFile(p, content);
      await utimes(p, SOURCE_TIME, SOURCE_TIME);
    }
  }
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) await utimes(d, SOURCE_TIME, SOURCE_TIME);
}

/** `xorriso -as mkisofs <args> -o out src`; returns out. */
export async function mkisofs(src: string, out: string, args: string[]): Promise<string> {
  await runOk('xorriso', ['-as', 'mkisofs', ...args, '-o', out, src]);
  return out;
}

/**
 * Paths in the image as xorriso sees them, without '/'. readFs: 'any' (Rock Ridge, else Joliet,
 * else ISO9660), 'norock' (Joliet first) or 'ecma119' (plain names).
 */
export async function xorrisoFind(iso: string, readFs: 'any' | 'norock' | 'ecma119' = 'any'): Promise<string[]> {
  const out = await runOk('xorriso', ['-read_fs', readFs, '-indev', iso, '-find', '/']);
  return out
    .split('\n')
    .filter((l) => l.startsWith("'"))
    .map((l) => l.slice(1, -1).replace(/'"'"'/g, "'"))
    .filter((p) => p !== '/')
    .map((p) => p.replace(/^\//, ''))
    .sort();
}

/** Extracts the whole image with osirrox into dir. */
export async function osirroxExtract(iso: string, dir: string, readFs: 'any' | 'norock' | 'ecma119' = 'any'): Promise<void> {
  await runOk('osirrox', ['-read_fs', readFs, '-indev', iso, '-extract', '/', dir]);
}

/** Relative paths of every regular file under dir. */
export async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await filesUnder(dir, rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out.sort();
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** sha256 and byte count of everything a stream yields. */
export async function hashStream(s: Readable): Promise<{ sha256: string; bytes: number; chunks: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  let chunks = 0;
  for await (const chunk of s) {
    const b = chunk as Buffer;
    h.update(b);
    bytes += b.length;
    chunks++;
  }
  return { sha256: h.digest('hex'), bytes, chunks };
}

export const hashFile = (path: string): Promise<{ sha256: string; bytes: number; chunks: number }> => hashStream(createReadStream(path));

/** Bytes from a small seeded generator (deterministic test content without Math.random). */
export function seededBytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}
