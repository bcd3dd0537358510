import { describe, expect, it } from 'vitest';
import { parseRange } from '../../server/http/byte-range.js';

const SIZE = 1000;

describe('parseRange', () => {
  it('serves the whole file without a Range header', () => {
    expect(parseRange(undefined, SIZE)).toEqual({ kind: 'full' });
  });

  it('parses a closed range, inclusive at both ends', () => {
    expect(parseRange('bytes=0-99', SIZE)).toEqual({ kind: 'partial', start: 0, end: 99 });
    expect(parseRange('bytes=0-0', SIZE)).toEqual({ kind: 'partial', start: 0, end: 0 });
    expect(parseRange('bytes=999-999', SIZE)).toEqual({ kind: 'partial', start: 999, end: 999 });
  });

  it('parses an open-ended range to the last byte', () => {
    expect(parseRange('bytes=100-', SIZE)).toEqual({ kind: 'partial', start: 100, end: 999 });
    expect(parseRange('bytes=0-', SIZE)).toEqual({ kind: 'partial', start: 0, end: 999 });
  });

  it('parses a suffix range as the last N bytes, clamped to the file', () => {
    expect(parseRange('bytes=-100', SIZE)).toEqual({ kind: 'partial', start: 900, end: 999 });
    expect(parseRange('bytes=-1', SIZE)).toEqual({ kind: 'partial', start: 999, end: 999 });
    expect(parseRange('bytes=-5000', SIZE)).toEqual({ kind: 'partial', start: 0, end: 999 });
  });

  it('clamps an end past the file to the last byte', () => {
    expect(parseRange('bytes=500-5000', SIZE)).toEqual({ kind: 'partial', start: 500, end: 999 });
    expect(parseRange('bytes=0-99999999999999999999', SIZE)).toEqual({ kind: 'partial', start: 0, end: 999 });
  });

  it('is unsatisfiable when the range starts at or past the end', () => {
    expect(parseRange('bytes=1000-', SIZE)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=1000-2000', SIZE)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=99999999999999999999-', SIZE)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
  });

  it('is unsatisfiable for a zero-length suffix', () => {
    expect(parseRange('bytes=-0', SIZE)).toEqual({ kind: 'unsatisfiable' });
  });

  it('ignores invalid ranges and serves the whole file (RFC 9110 14.2)', () => {
    for (const h of ['bytes=5-2', 'bytes=-', 'bytes=', 'bytes=a-b', 'items=0-5', 'bytes 0-5', '0-5', 'bytes=0-5x', 'bytes=--5', 'bytes=1.5-2']) {
      expect(parseRange(h, SIZE), h).toEqual({ kind: 'full' });
    }
  });

  it('serves the whole file for multi-range requests rather than a multipart body', () => {
    expect(parseRange('bytes=0-1,5-6', SIZE)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=0-1, -5', SIZE)).toEqual({ kind: 'full' });
  });

  it('tolerates surrounding and inner whitespace', () => {
    expect(parseRange('  bytes=10-20  ', SIZE)).toEqual({ kind: 'partial', start: 10, end: 20 });
    expect(parseRange('bytes= 10 - 20', SIZE)).toEqual({ kind: 'partial', start: 10, end: 20 });
  });

  it('yields ranges that tile the file exactly', () => {
    const size = 1_048_576;
    const step = 65_536 + 123;
    let next = 0;
    while (next < size) {
      const r = parseRange(`bytes=${next}-${next + step - 1}`, size);
      if (r.kind !== 'partial') throw new Error(`expected partial at ${next}`);
      expect(r.start).toBe(next);
      next = r.end + 1;
    }
    expect(next).toBe(size);
  });
});
