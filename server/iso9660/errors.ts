// Internal failure signal. Parsers deep in the tree throw IsoFault; the public entry points catch it
// (and file-system errors) and hand back a result value, so callers never see an exception for bad input.
import type { IsoErrorCode } from './types.js';

export class IsoFault extends Error {
  constructor(
    readonly code: IsoErrorCode,
    reason: string,
  ) {
    super(reason);
    this.name = 'IsoFault';
  }
}

export const corrupt = (reason: string): IsoFault => new IsoFault('RB_ISO_CORRUPT', reason);
export const truncated = (reason: string): IsoFault => new IsoFault('RB_ISO_TRUNCATED', reason);

/** A Node.js system error (ENOENT, EIO, EISDIR, ...), as opposed to a programming error. */
export function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && 'syscall' in e;
}

/** Maps a caught value to a failure; anything that is neither IsoFault nor a system error is a bug and rethrown. */
export function failureOf(e: unknown): { code: IsoErrorCode; reason: string } {
  if (e instanceof IsoFault) return { code: e.code, reason: e.message };
  if (isSystemError(e)) return { code: 'RB_ISO_IO', reason: e.message };
  throw e;
}

/** Error emitted by IsoImage.createReadStream. */
export class IsoStreamError extends Error {
  constructor(
    readonly code: string,
    reason: string,
  ) {
    super(reason);
    this.name = 'IsoStreamError';
  }
}
