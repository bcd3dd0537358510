// Seeded fuzz of the DHCP codec: 100,000 malformed inputs, every one reproducible from SEED and
// its index. Decode must never throw; every accepted packet must survive every accessor and a
// re-encode, and whatever re-encodes must decode back to the same packet.
import { describe, expect, it } from 'vitest';
import { clientMac, decodePacket, emptyReply, encodePacket, type DhcpPacket } from '../../server/dhcp/packet.js';
import {
  Opt,
  archFromVendorClass,
  clientArchs,
  clientGuid,
  clientNdi,
  encodeSubOptions,
  ipOpt,
  isIpxe,
  messageType,
  paramList,
  relayAgentInfo,
  stringOpt,
  subOptions,
  u16Opt,
  u32Opt,
  userClasses,
  vendorClass,
} from '../../server/dhcp/options.js';
import { SYNTHETIC, rawPacket, tlvs } from '../fixtures/dhcp/synthetic.js';

const SEED = 0x5eed_d4c9;
const TOTAL = 100_000;

/** xorshift32: tiny, deterministic, good enough to pick mutations. */
function prng(seed: number): { int: (n: number) => number; byte: () => number; bytes: (n: number) => Buffer } {
  let x = seed >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  const int = (n: number): number => (n <= 0 ? 0 : next() % n);
  const byte = (): number => next() & 0xff;
  const bytes = (n: number): Buffer => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = byte();
    return b;
  };
  return { int, byte, bytes };
}

type Rng = ReturnType<typeof prng>;

/** Valid starting points: the hand-built client packets plus replies that need splitting and overload. */
function seedCorpus(): Buffer[] {
  const corpus = SYNTHETIC.map((s) => s.build());
  const base = decodePacket(corpus[1] ?? Buffer.alloc(0));
  if (!base.ok) throw new Error('seed packet does not decode');
  const reply = emptyReply(base.packet);
  reply.options.set(53, Buffer.from([2]));
  reply.options.set(43, Buffer.alloc(300, 0x2b)); // 255 + 45: the tail goes to file at 548
  reply.options.set(66, Buffer.from('10.0.0.1'));
  reply.options.set(12, Buffer.alloc(40, 0x68));
  for (const maxSize of [1472, 548]) {
    const r = encodePacket(reply, { maxSize });
    if (!r.ok) throw new Error(`seed reply does not encode: ${r.reason}`);
    corpus.push(r.data);
  }
  return corpus;
}

/** Offsets of the length bytes of the TLVs in the options area (for targeted corruption). */
function lengthOffsets(buf: Buffer): number[] {
  const out: number[] = [];
  let i = 240;
  while (i + 1 < buf.length && buf[i] !== 255) {
    if (buf[i] === 0) {
      i++;
      continue;
    }
    out.push(i + 1);
    i += 2 + (buf[i + 1] ?? 0);
  }
  return out;
}

const MUTATORS: Array<{ name: string; make: (r: Rng, seed: Buffer) => Buffer }> = [
  { name: 'random bytes, length 0-1500', make: (r) => r.bytes(r.int(1501)) },
  {
    name: 'valid header and cookie, random option area',
    make: (r, s) => Buffer.concat([s.subarray(0, 240), r.bytes(r.int(1261))]),
  },
  {
    name: 'bit flips of a valid packet',
    make: (r, s) => {
      const b = Buffer.from(s);
      for (let n = 1 + r.int(16); n > 0; n--) {
        const at = r.int(b.length);
        b[at] = (b[at] ?? 0) ^ (1 << r.int(8));
      }
      return b;
    },
  },
  {
    name: 'option length corruption',
    make: (r, s) => {
      const b = Buffer.from(s);
      const offs = lengthOffsets(b);
      for (let n = 1 + r.int(3); n > 0 && offs.length > 0; n--) b[offs[r.int(offs.length)] ?? 240] = r.byte();
      return b;
    },
  },
  { name: 'truncation', make: (r, s) => s.subarray(0, r.int(s.length + 1)) },
  {
    name: 'random overload value and field contents',
    make: (r, s) => {
      const fieldTlvs = (len: number): Buffer =>
        r.int(2) === 0 ? r.bytes(len) : tlvs([[r.byte(), r.bytes(r.int(len))]]).subarray(0, len);
      const ov = r.int(4) === 0 ? r.bytes(r.int(4)) : Buffer.from([r.int(6)]);
      return rawPacket({
        xid: r.int(0x100000000),
        options: [[52, ov], [53, [1 + r.int(8)]], [r.byte(), r.bytes(r.int(40))]],
        sname: fieldTlvs(64),
        file: fieldTlvs(128),
        end: r.int(2) === 0,
        padTo: s.length,
      });
    },
  },
  {
    name: 'huge repeated options',
    make: (r) => {
      const codes = [43, 175, 82, 77, 55, 12, 93, 97, 60, r.byte()];
      const count = r.int(10) === 0 ? 64 + r.int(200) : r.int(12);
      const opts: Array<[number, Buffer]> = [];
      for (let i = 0; i < count; i++) opts.push([codes[r.int(codes.length)] ?? 43, r.bytes(r.int(2) ? 255 : r.int(256))]);
      const b = rawPacket({ options: [[53, [1 + r.int(8)]], ...opts], end: r.int(4) !== 0 });
      return r.int(4) === 0 ? b.subarray(0, r.int(b.length + 1)) : b;
    },
  },
  {
    name: 'random header fields and byte insertions/deletions',
    make: (r, s) => {
      const b = Buffer.from(s);
      b[0] = r.int(4);
      b[1] = r.byte();
      b[2] = r.int(20);
      const at = 240 + r.int(Math.max(1, b.length - 240));
      return r.int(2) === 0
        ? Buffer.concat([b.subarray(0, at), r.bytes(1 + r.int(8)), b.subarray(at)])
        : Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + r.int(8))]);
    },
  },
];

/** Touches every accessor; returns a value so the calls cannot be optimised away. */
function exercise(p: DhcpPacket): number {
  let n = 0;
  n += messageType(p) ?? 0;
  n += paramList(p).length + userClasses(p).length + clientArchs(p).length;
  n += archFromVendorClass(vendorClass(p)) ?? 0;
  n += clientNdi(p)?.type ?? 0;
  n += clientGuid(p)?.length ?? 0;
  n += relayAgentInfo(p)?.raw.length ?? 0;
  n += isIpxe(p) ? 1 : 0;
  n += clientMac(p)?.length ?? 0;
  n += emptyReply(p).options.size;
  for (const code of p.options.keys()) {
    n += (ipOpt(p, code) ?? '').length + (u16Opt(p, code) ?? 0) + (u32Opt(p, code) ?? 0);
    n += stringOpt(p, code)?.length ?? 0;
  }
  for (const code of [Opt.VendorSpecific, Opt.Ipxe, Opt.RelayAgentInfo, Opt.UserClass]) {
    const v = p.options.get(code);
    const subs = v ? subOptions(v) : null;
    if (subs) {
      // A parsed sub-option set must re-encode to something that parses back the same.
      const again = subOptions(encodeSubOptions(subs, { end: true }));
      if (!again || !sameOptions(subs, again)) throw new Error(`sub-option round trip differs for option ${code}`);
      n += subs.size;
    }
  }
  return n;
}

function sameOptions(a: Map<number, Buffer>, b: Map<number, Buffer>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (!b.get(k)?.equals(v)) return false;
  return true;
}

function samePacket(a: DhcpPacket, b: DhcpPacket): boolean {
  const scalars = ['op', 'htype', 'hlen', 'hops', 'xid', 'secs', 'flags', 'ciaddr', 'yiaddr', 'siaddr', 'giaddr', 'sname', 'file'] as const;
  return scalars.every((k) => a[k] === b[k]) && a.chaddr.equals(b.chaddr) && sameOptions(a.options, b.options);
}

describe('DHCP codec fuzz', () => {
  it(`survives ${TOTAL} seeded malformed inputs (seed 0x${SEED.toString(16)})`, { timeout: 120_000 }, () => {
    const rng = prng(SEED);
    const corpus = seedCorpus();
    const stats = {
      processed: 0,
      exceptions: 0,
      internalErrors: 0,
      decodedOk: 0,
      rejected: 0,
      emptyReasons: 0,
      encodedOk: 0,
      encodeRejected: 0,
      encoded548Ok: 0,
      roundTripMismatches: 0,
      oversize: 0,
    };
    const perMutator = MUTATORS.map(() => ({ ok: 0, rejected: 0 }));
    const failures: string[] = [];
    let sink = 0;

    for (let i = 0; i < TOTAL; i++) {
      const m = i % MUTATORS.length;
      const mutator = MUTATORS[m]!;
      const input = mutator.make(rng, corpus[rng.int(corpus.length)] ?? Buffer.alloc(0));
      stats.processed++;
      try {
        const d = decodePacket(input);
        if (!d.ok) {
          stats.rejected++;
          perMutator[m]!.rejected++;
          if (typeof d.reason !== 'string' || d.reason.length === 0) stats.emptyReasons++;
          if (d.reason.startsWith('internal')) stats.internalErrors++;
          continue;
        }
        stats.decodedOk++;
        perMutator[m]!.ok++;
        sink += exercise(d.packet);
        for (const maxSize of [undefined, 548]) {
          const e = encodePacket(d.packet, maxSize === undefined ? undefined : { maxSize });
          if (!e.ok) {
            stats.encodeRejected++;
            if (e.reason.startsWith('internal')) stats.internalErrors++;
            continue;
          }
          if (maxSize === undefined) stats.encodedOk++;
          else stats.encoded548Ok++;
          if (e.data.length > (maxSize ?? 1472)) stats.oversize++;
          const back = decodePacket(e.data);
          if (!back.ok || !samePacket(back.packet, d.packet)) {
            stats.roundTripMismatches++;
            if (failures.length < 5) failures.push(`#${i} ${mutator.name}: round trip differs; input ${input.toString('hex')}`);
          }
        }
      } catch (err) {
        stats.exceptions++;
        if (failures.length < 5) failures.push(`#${i} ${mutator.name}: ${String(err)}; input ${input.toString('hex')}`);
      }
    }

    expect(failures).toEqual([]);
    expect(stats.processed).toBe(TOTAL);
    expect(stats.exceptions).toBe(0);
    expect(stats.internalErrors).toBe(0);
    expect(stats.emptyReasons).toBe(0);
    expect(stats.roundTripMismatches).toBe(0);
    expect(stats.oversize).toBe(0);
    expect(stats.decodedOk + stats.rejected).toBe(TOTAL);
    // The mix must exercise both paths in earnest, or the test proves little.
    expect(stats.decodedOk).toBeGreaterThan(TOTAL / 10);
    expect(stats.rejected).toBeGreaterThan(TOTAL / 10);
    expect(stats.encodedOk).toBeGreaterThan(TOTAL / 20);
    expect(stats.encoded548Ok).toBeGreaterThan(TOTAL / 20);
    expect(stats.encodeRejected).toBeGreaterThan(0);
    for (const [m, c] of perMutator.entries()) {
      expect(c.ok + c.rejected, MUTATORS[m]!.name).toBe(TOTAL / MUTATORS.length);
    }
    expect(sink).toBeGreaterThan(0);
    console.log(`dhcp fuzz seed 0x${SEED.toString(16)}: ${JSON.stringify(stats)}`);
    console.log(
      `per mutator (ok/rejected): ${MUTATORS.map((mu, k) => `${mu.name} ${perMutator[k]!.ok}/${perMutator[k]!.rejected}`).join('; ')}`,
    );
  });
});
