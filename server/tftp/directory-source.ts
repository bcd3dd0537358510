// Read-only TFTP file source confined to one directory. Confinement is checked on the real path, so a
// symlink inside the root that points outside it is refused rather than followed.
import { constants as fsc } from 'node:fs';
import { open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode } from './packet.js';
import type { TftpOpenResult, TftpRequestInfo, TftpSourceFile } from './server.js';

function deny(code: number, message: string): TftpOpenResult {
  return { ok: false, code, message };
}

function errno(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : '';
}

// Maps a file-system error to a TFTP error without leaking server paths to the client.
function fsDeny(err: unknown): TftpOpenResult {
  switch (errno(err)) {
    case 'ENOENT':
    case 'ENOTDIR':
      return deny(ErrorCode.FILE_NOT_FOUND, 'file not found');
    case 'EACCES':
    case 'EPERM':
    case 'ELOOP':
      return deny(ErrorCode.ACCESS_VIOLATION, 'access violation');
    default:
      return deny(ErrorCode.NOT_DEFINED, 'cannot open file');
  }
}

// Turns a requested name into path segments relative to the root, or a refusal. Firmware sends names with
// a leading '/' or with DOS separators, so both are accepted as separators.
function normaliseTftpName(name: string): string[] | TftpOpenResult {
  if (name.includes('\0')) return deny(ErrorCode.ACCESS_VIOLATION, 'invalid file name');
  const segments = name.replace(/\\/g, '/').split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return deny(ErrorCode.ACCESS_VIOLATION, 'access violation');
  if (segments.length === 0) return deny(ErrorCode.FILE_NOT_FOUND, 'file not found');
  return segments;
}

function isInside(rootReal: string, target: string): boolean {
  if (target === rootReal) return true;
  const prefix = rootReal.endsWith(path.sep) ? rootReal : rootReal + path.sep;
  return target.startsWith(prefix);
}

class HandleFile implements TftpSourceFile {
  private closed = false;
  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  async read(offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.alloc(length);
    let filled = 0;
    // pread may return short counts; loop until the range is full or the file ends.
    while (filled < length) {
      const { bytesRead } = await this.handle.read(buf, filled, length - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === length ? buf : buf.subarray(0, filled);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}

export function directorySource(root: string): (req: TftpRequestInfo) => Promise<TftpOpenResult> {
  return async (req) => {
    const segments = normaliseTftpName(req.filename);
    if (!Array.isArray(segments)) return segments;
    let rootReal: string;
    try {
      rootReal = await realpath(root);
    } catch {
      return deny(ErrorCode.NOT_DEFINED, 'TFTP root unavailable');
    }
    let target: string;
    try {
      target = await realpath(path.join(rootReal, ...segments));
    } catch (err) {
      return fsDeny(err);
    }
    if (!isInside(rootReal, target)) return deny(ErrorCode.ACCESS_VIOLATION, 'access violation');
    try {
      // stat first: opening a FIFO or device could block or have side effects.
      const st = await stat(target);
      if (!st.isFile()) return deny(ErrorCode.FILE_NOT_FOUND, 'file not found');
    } catch (err) {
      return fsDeny(err);
    }
    let handle: FileHandle;
    try {
      // O_NOFOLLOW/O_NONBLOCK: if the last component was swapped for a symlink or FIFO since realpath,
      // fail instead of following or blocking.
      handle = await open(target, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    } catch (err) {
      return fsDeny(err);
    }
    try {
      // A directory inside the root swapped for a symlink between realpath() and open() would be followed:
      // on Linux, check where the descriptor really points.
      const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => null);
      if (opened !== null && !isInside(rootReal, opened)) {
        await handle.close();
        return deny(ErrorCode.ACCESS_VIOLATION, 'access violation');
      }
      const st = await handle.stat();
      if (!st.isFile()) {
        await handle.close();
        return deny(ErrorCode.FILE_NOT_FOUND, 'file not found');
      }
      return { ok: true, file: new HandleFile(handle, st.size) };
    } catch (err) {
      await handle.close().catch(() => undefined);
      return fsDeny(err);
    }
  };
}
