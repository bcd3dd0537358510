// The writer's file tree: input paths checked and split into directories, and the three names of
// every node: the exact name (Rock Ridge NM, Joliet) and a unique ISO9660 level 2 identifier.
import { utf16be } from './writer-fields.js';

export interface WFile {
  kind: 'file';
  name: string;
  data: Buffer;
  iso: string; // e.g. 'USER_DATA.;1'
  lba: number;
}

export interface WDir {
  kind: 'dir';
  name: string;
  parent: WDir | null;
  children: Array<WDir | WFile>;
  iso: string; // e.g. 'BOOT'
}

export type WNode = WDir | WFile;

/** Joliet forbids these; ';' would also read back as a version suffix. */
const JOLIET_BAD = /[*/:;?\\\u0000-\u001f]/;
export const JOLIET_MAX_UNITS = 64;

/** Splits and checks one input path; throws RangeError for anything a caller must fix. */
function segments(path: string): string[] {
  if (typeof path !== 'string' || path === '') throw new RangeError('file path must be a non-empty string');
  const parts = path.split('/').filter((s) => s !== '');
  if (parts.length === 0) throw new RangeError(`file path ${JSON.stringify(path)} names the root`);
  for (const p of parts) {
    if (p === '.' || p === '..' || p.includes('\0')) throw new RangeError(`file path ${JSON.stringify(path)} has an invalid segment ${JSON.stringify(p)}`);
  }
  return parts;
}

export function checkJolietName(name: string): void {
  if (JOLIET_BAD.test(name)) throw new RangeError(`${JSON.stringify(name)} contains a character Joliet does not allow`);
  if (utf16be(name).length / 2 > JOLIET_MAX_UNITS) throw new RangeError(`${JSON.stringify(name)} is longer than ${JOLIET_MAX_UNITS} characters (Joliet limit)`);
}

const dchars = (s: string): string => s.toUpperCase().replace(/[^A-Z0-9_]/g, '_');

/** Level 2 identifier candidates: base and extension of d-characters, at most 30 together. */
function isoParts(name: string, isDir: boolean): { base: string; ext: string } {
  if (isDir) return { base: dchars(name).slice(0, 31) || '_', ext: '' };
  const dot = name.lastIndexOf('.');
  const rawBase = dot > 0 ? name.slice(0, dot) : name;
  const ext = dot > 0 ? dchars(name.slice(dot + 1)).slice(0, 8) : '';
  return { base: dchars(rawBase).slice(0, 30 - ext.length) || '_', ext };
}

function isoIdentifier(base: string, ext: string, isDir: boolean): string {
  return isDir ? base : `${base}.${ext};1`;
}

/** Gives every child of `dir` a unique ISO identifier; clashes get a numbered tail (deterministic: input is sorted). */
function assignIsoNames(dir: WDir): void {
  const taken = new Set<string>();
  for (const child of dir.children) {
    const isDir = child.kind === 'dir';
    const { base, ext } = isoParts(child.name, isDir);
    const room = isDir ? 31 : 30 - ext.length;
    let id = isoIdentifier(base, ext, isDir);
    for (let n = 1; taken.has(id); n++) {
      const tail = `_${n}`;
      id = isoIdentifier(base.slice(0, Math.max(1, room - tail.length)) + tail, ext, isDir);
    }
    taken.add(id);
    child.iso = id;
    if (child.kind === 'dir') assignIsoNames(child);
  }
}

/** Builds the tree from the input list; throws RangeError on duplicate or conflicting paths. */
export function buildTree(files: ReadonlyArray<{ path: string; data: Buffer }>, joliet: boolean): WDir {
  const root: WDir = { kind: 'dir', name: '', parent: null, children: [], iso: '' };
  const sorted = files.map((f) => ({ parts: segments(f.path), data: f.data, path: f.path }));
  // Sort by segments so identifiers and layout never depend on input order.
  sorted.sort((a, b) => {
    const n = Math.min(a.parts.length, b.parts.length);
    for (let i = 0; i < n; i++) {
      const x = a.parts[i] ?? '';
      const y = b.parts[i] ?? '';
      if (x !== y) return x < y ? -1 : 1;
    }
    return a.parts.length - b.parts.length;
  });
  for (const f of sorted) {
    if (!Buffer.isBuffer(f.data)) throw new RangeError(`${f.path}: data must be a Buffer`);
    if (f.data.length > 0xffffffff) throw new RangeError(`${f.path}: files of 4 GiB or more are not supported`);
    let dir = root;
    f.parts.forEach((name, i) => {
      if (joliet) checkJolietName(name);
      const existing = dir.children.find((c) => c.name === name);
      const last = i === f.parts.length - 1;
      if (last) {
        if (existing) throw new RangeError(`${f.path}: given twice, or both as a file and a directory`);
        dir.children.push({ kind: 'file', name, data: f.data, iso: '', lba: 0 });
        return;
      }
      if (existing?.kind === 'file') throw new RangeError(`${f.path}: ${name} is both a file and a directory`);
      if (existing) {
        dir = existing;
        return;
      }
      const sub: WDir = { kind: 'dir', name, parent: dir, children: [], iso: '' };
      dir.children.push(sub);
      dir = sub;
    });
  }
  assignIsoNames(root);
  return root;
}
