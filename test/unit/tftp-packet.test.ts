import { describe, expect, it } from 'vitest';
import {
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodePacket,
  encodeRequest,
  parsePacket,
  type ParseResult,
  type TftpPacket,
} from '../../server/tftp/packet.js';

// Builds a datagram from an opcode and raw fields; strings are written with their NUL terminator.
function wire(opcode: number, ...fields: Array<string | Buffer | number[]>): Buffer {
  const parts: Buffer[] = [Buffer.from([opcode >> 8, opcode & 0xff])];
  for (const f of fields) parts.push(typeof f === 'string' ? Buffer.from(`${f}\0`, 'utf8') : Buffer.from(f));
  return Buffer.concat(parts);
}

function ok(r: ParseResult): TftpPacket {
  if (!r.ok) throw new Error(`expected ok, got: ${r.reason}`);
  return r.packet;
}

function bad(r: ParseResult): string {
  if (r.ok) throw new Error(`expected failure, got ${JSON.stringify(r.packet)}`);
  return r.reason;
}

describe('tftp packet: RRQ / WRQ', () => {
  it('parses a plain RRQ (RFC 1350) and lower-cases the mode', () => {
    expect(ok(parsePacket(wire(1, 'pxelinux.0', 'OCTET')))).toEqual({ op: 'RRQ', filename: 'pxelinux.0', mode: 'octet', options: {} });
  });

  it('parses the EDK2 request with options (tsize 0 blksize 1468 windowsize 4)', () => {
    const p = ok(parsePacket(wire(1, 'snponly.efi', 'octet', 'tsize', '0', 'blksize', '1468', 'windowsize', '4')));
    expect(p).toEqual({ op: 'RRQ', filename: 'snponly.efi', mode: 'octet', options: { tsize: '0', blksize: '1468', windowsize: '4' } });
  });

  it('parses the iPXE undionly request (blksize 1432 tsize 0)', () => {
    const p = ok(parsePacket(wire(1, 'undionly.kpxe', 'octet', 'blksize', '1432', 'tsize', '0')));
    expect(p.op === 'RRQ' && p.options).toEqual({ blksize: '1432', tsize: '0' });
  });

  it('matches option names case-insensitively (RFC 2347) and keeps values as sent', () => {
    const p = ok(parsePacket(wire(1, 'f', 'octet', 'BlkSize', '1024', 'TSIZE', 'enable')));
    expect(p.op === 'RRQ' && p.options).toEqual({ blksize: '1024', tsize: 'enable' });
  });

  it('keeps the first of repeated options', () => {
    const p = ok(parsePacket(wire(1, 'f', 'octet', 'blksize', '1024', 'BLKSIZE', '8')));
    expect(p.op === 'RRQ' && p.options['blksize']).toBe('1024');
  });

  it('accepts trailing NUL padding after the options', () => {
    const p = ok(parsePacket(Buffer.concat([wire(1, 'f', 'octet', 'tsize', '0'), Buffer.alloc(7)])));
    expect(p.op === 'RRQ' && p.options).toEqual({ tsize: '0' });
  });

  it('accepts an empty option value', () => {
    const p = ok(parsePacket(wire(1, 'f', 'octet', 'tsize', '')));
    expect(p.op === 'RRQ' && p.options).toEqual({ tsize: '' });
  });

  it('stores "__proto__" as a plain option name without touching prototypes', () => {
    const p = ok(parsePacket(wire(1, 'f', 'octet', '__proto__', 'x', 'constructor', 'y')));
    expect(p.op === 'RRQ' && p.options['__proto__']).toBe('x');
    expect(p.op === 'RRQ' && p.options['constructor']).toBe('y');
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });

  it('parses a WRQ', () => {
    expect(ok(parsePacket(wire(2, 'upload.bin', 'netascii')))).toEqual({ op: 'WRQ', filename: 'upload.bin', mode: 'netascii', options: {} });
  });

  it('parses UTF-8 file names', () => {
    const p = ok(parsePacket(wire(1, 'grüße/ß.cfg', 'octet')));
    expect(p.op === 'RRQ' && p.filename).toBe('grüße/ß.cfg');
  });

  it('rejects a filename without terminator', () => {
    expect(bad(parsePacket(Buffer.from('\0\x01pxelinux.0')))).toMatch(/filename/);
  });

  it('rejects a missing or unterminated mode', () => {
    expect(bad(parsePacket(Buffer.from('\0\x01file\0')))).toMatch(/mode/);
    expect(bad(parsePacket(Buffer.from('\0\x01file\0octet')))).toMatch(/mode/);
    expect(bad(parsePacket(wire(1, 'file', '')))).toMatch(/mode/);
  });

  it('rejects an option without a value and a truncated option', () => {
    expect(bad(parsePacket(wire(1, 'f', 'octet', 'blksize')))).toMatch(/blksize/);
    expect(bad(parsePacket(Buffer.concat([wire(1, 'f', 'octet'), Buffer.from('blksize\x001468')])))).toMatch(/blksize/);
    expect(bad(parsePacket(Buffer.concat([wire(1, 'f', 'octet'), Buffer.from('tsize')])))).toMatch(/option/);
  });

  it('rejects an empty option name followed by data', () => {
    expect(bad(parsePacket(Buffer.concat([wire(1, 'f', 'octet'), Buffer.from('\0x\0')])))).toMatch(/empty option name/);
  });

  it('rejects invalid UTF-8 in names', () => {
    expect(bad(parsePacket(wire(1, Buffer.from([0xc3, 0x28, 0]), 'octet')))).toMatch(/UTF-8/);
    expect(bad(parsePacket(wire(1, 'f', Buffer.from([0xff, 0]))))).toMatch(/UTF-8/);
  });

  it('encodes requests with options in order', () => {
    expect(encodeRequest('RRQ', 'a', 'octet', [['blksize', '1468'], ['tsize', '0']])).toEqual(Buffer.from('\0\x01a\0octet\0blksize\x001468\0tsize\x000\0', 'latin1'));
    expect(encodeRequest('WRQ', 'b', 'octet')).toEqual(Buffer.from('\0\x02b\0octet\0', 'latin1'));
  });

  it('refuses to encode NUL inside strings or an empty mode', () => {
    expect(() => encodeRequest('RRQ', 'a\0b', 'octet')).toThrow(RangeError);
    expect(() => encodeRequest('RRQ', 'a', '')).toThrow(RangeError);
    expect(() => encodeRequest('RRQ', 'a', 'octet', { '': 'x' })).toThrow(RangeError);
  });
});

describe('tftp packet: DATA / ACK / ERROR / OACK', () => {
  it('parses DATA with payload and with an empty payload (final block of an exact-multiple file)', () => {
    const p = ok(parsePacket(wire(3, [0x12, 0x34], Buffer.from('hello'))));
    expect(p.op).toBe('DATA');
    if (p.op !== 'DATA') return;
    expect(p.block).toBe(0x1234);
    expect(p.data.toString()).toBe('hello');
    const empty = ok(parsePacket(wire(3, [0xff, 0xff])));
    expect(empty.op === 'DATA' && empty.block).toBe(65535);
    expect(empty.op === 'DATA' && empty.data.length).toBe(0);
  });

  it('parses ACK, including block 0 and 65535, and tolerates trailing bytes', () => {
    expect(ok(parsePacket(wire(4, [0, 0])))).toEqual({ op: 'ACK', block: 0 });
    expect(ok(parsePacket(wire(4, [0xff, 0xff])))).toEqual({ op: 'ACK', block: 65535 });
    expect(ok(parsePacket(wire(4, [0, 7, 1, 2, 3])))).toEqual({ op: 'ACK', block: 7 });
  });

  it('parses ERROR with and without a message terminator', () => {
    expect(ok(parsePacket(wire(5, [0, 8], 'User aborted the transfer')))).toEqual({ op: 'ERROR', code: 8, message: 'User aborted the transfer' });
    expect(ok(parsePacket(wire(5, [0, 1], Buffer.from('no nul'))))).toEqual({ op: 'ERROR', code: 1, message: 'no nul' });
    expect(ok(parsePacket(wire(5, [0, 0])))).toEqual({ op: 'ERROR', code: 0, message: '' });
  });

  it('parses OACK, with and without options', () => {
    expect(ok(parsePacket(wire(6, 'blksize', '1468', 'tsize', '1048576')))).toEqual({ op: 'OACK', options: { blksize: '1468', tsize: '1048576' } });
    expect(ok(parsePacket(wire(6)))).toEqual({ op: 'OACK', options: {} });
    expect(bad(parsePacket(wire(6, 'blksize')))).toMatch(/blksize/);
  });

  it('encodes DATA, ACK, ERROR and OACK byte-exactly', () => {
    expect(encodeData(1, Buffer.from('ab'))).toEqual(Buffer.from([0, 3, 0, 1, 0x61, 0x62]));
    expect(encodeData(65535, Buffer.alloc(0))).toEqual(Buffer.from([0, 3, 0xff, 0xff]));
    expect(encodeAck(258)).toEqual(Buffer.from([0, 4, 1, 2]));
    expect(encodeError(5, 'unknown transfer ID')).toEqual(Buffer.concat([Buffer.from([0, 5, 0, 5]), Buffer.from('unknown transfer ID\0')]));
    expect(encodeOack({ blksize: '1468' })).toEqual(Buffer.from('\0\x06blksize\x001468\0', 'latin1'));
  });

  it('refuses to encode out-of-range block numbers and codes', () => {
    expect(() => encodeAck(65536)).toThrow(RangeError);
    expect(() => encodeAck(-1)).toThrow(RangeError);
    expect(() => encodeData(1.5, Buffer.alloc(0))).toThrow(RangeError);
    expect(() => encodeError(70000, 'x')).toThrow(RangeError);
    expect(() => encodeError(0, 'a\0b')).toThrow(RangeError);
  });

  it('round-trips every packet type through encodePacket and parsePacket', () => {
    const packets: TftpPacket[] = [
      { op: 'RRQ', filename: 'boot/x.efi', mode: 'octet', options: { blksize: '1468', windowsize: '4' } },
      { op: 'WRQ', filename: 'u', mode: 'netascii', options: {} },
      { op: 'DATA', block: 65535, data: Buffer.from([1, 2, 3]) },
      { op: 'ACK', block: 0 },
      { op: 'ERROR', code: 2, message: 'access violation' },
      { op: 'OACK', options: { tsize: '123' } },
    ];
    for (const p of packets) expect(ok(parsePacket(encodePacket(p)))).toEqual(p);
  });
});

describe('tftp packet: bad inputs', () => {
  it('rejects empty and 1-byte datagrams', () => {
    expect(bad(parsePacket(Buffer.alloc(0)))).toMatch(/shorter/);
    expect(bad(parsePacket(Buffer.from([0])))).toMatch(/shorter/);
  });

  it('rejects 2- and 3-byte DATA, ACK and ERROR', () => {
    for (const op of [3, 4, 5]) {
      expect(parsePacket(Buffer.from([0, op])).ok).toBe(false);
      expect(parsePacket(Buffer.from([0, op, 1])).ok).toBe(false);
    }
  });

  it('rejects unknown opcodes', () => {
    for (const op of [0, 7, 8, 0x0100, 0xffff]) expect(bad(parsePacket(wire(op, 'x', 'octet')))).toMatch(/unknown opcode/);
  });

  it('accepts a plain Uint8Array view with an offset', () => {
    const backing = new Uint8Array([9, 9, 0, 4, 0, 42, 9]);
    expect(ok(parsePacket(backing.subarray(2, 6)))).toEqual({ op: 'ACK', block: 42 });
  });
});
