// Fuzzing the TFTP server: seeded malformed and mutated datagrams over loopback UDP to the request port
// and to live transfer ports (from the transfer's own client port and from foreign ports), then a normal
// download; plus an in-process fuzz of the packet parser. Reproducible from the seeds below.
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeAck, encodeData, encodeError, encodeOack, encodePacket, encodeRequest, parsePacket } from '../../server/tftp/packet.js';
import type { TftpEvent } from '../../server/tftp/server.js';
import { tftpGet } from '../support/tftp-client.js';
import { sha256, sleep, startHarness, type Harness } from '../support/tftp-harness.js';
import { Prng } from '../support/prng.js';

const NET_SEED = 0x7f7f0001;
const PARSE_SEED = 0x7f7f0002;
const NET_TARGET = 100_000;
const PARSE_TARGET = 100_000;
// Datagrams per batch and per target socket: well under what a default receive buffer holds, and the
// event loop gets a turn between batches so the server reads them instead of the kernel dropping them.
const BATCH = 150;

const FILENAMES = ['boot.bin', 'small.txt', 'missing.bin', '../etc/passwd', 'sub\\..\\boot.bin', '/boot.bin', '', 'a'.repeat(300), 'ü.bin', 'escape'];
const OPTION_SETS: Array<Array<[string, string]>> = [
  [],
  [['tsize', '0'], ['blksize', '1468'], ['windowsize', '4']],
  [['blksize', '1432'], ['tsize', '0']],
  [['blksize', '65464'], ['timeout', '1'], ['windowsize', '65535']],
  [['BLKSIZE', '7'], ['TSIZE', 'enable'], ['timeout', '0']],
  [['blksize', '-1'], ['windowsize', '99999999999999999999'], ['timeout', '256']],
  [['blksize', '1e3'], ['rollover', '0'], ['multicast', '']],
  [['__proto__', '1'], ['constructor', '2'], ['toString', '3']],
];

// Mutated and random datagrams of every shape the server can see.
function mutate(rng: Prng, base: Buffer): Buffer {
  const b = Buffer.from(base);
  switch (rng.int(8)) {
    case 0: // bit flips
      for (let i = rng.int(4) + 1; i > 0 && b.length > 0; i--) {
        const at = rng.int(b.length);
        b[at] = (b[at] ?? 0) ^ (1 << rng.int(8));
      }
      return b;
    case 1: // truncate
      return b.subarray(0, rng.int(b.length + 1));
    case 2: // append garbage
      return Buffer.concat([b, rng.bytes(rng.int(64) + 1)]);
    case 3: // drop all NULs
      return Buffer.from(b.filter((x) => x !== 0));
    case 4: // random NULs
      for (let i = rng.int(4) + 1; i > 0 && b.length > 0; i--) b[rng.int(b.length)] = 0;
      return b;
    case 5: // swap the opcode
      if (b.length >= 2) b.writeUInt16BE(rng.int(8), 0);
      return b;
    case 6: // overwrite a range with 0xff
      if (b.length > 0) b.fill(0xff, rng.int(b.length), rng.int(b.length + 1));
      return b;
    default: // duplicate a slice
      return Buffer.concat([b, b.subarray(rng.int(b.length + 1))]);
  }
}

function template(rng: Prng): Buffer {
  switch (rng.int(7)) {
    case 0:
      return encodeRequest('RRQ', rng.pick(FILENAMES), rng.pick(['octet', 'netascii', 'OCTET', 'mail', 'binary']), rng.pick(OPTION_SETS));
    case 1:
      return encodeRequest('WRQ', rng.pick(FILENAMES), 'octet', rng.pick(OPTION_SETS));
    case 2:
      return encodeAck(rng.int(0x10000));
    case 3:
      return encodeData(rng.int(0x10000), rng.bytes(rng.int(600)));
    case 4:
      return encodeError(rng.int(10), rng.pick(['', 'User aborted the transfer', 'x'.repeat(200)]));
    case 5:
      return encodeOack(rng.pick(OPTION_SETS));
    default:
      return rng.bytes(rng.int(80));
  }
}

function fuzzDatagram(rng: Prng): Buffer {
  const r = rng.int(10);
  if (r === 0) return rng.bytes(rng.int(4)); // runts: 0..3 bytes
  if (r === 1) return rng.bytes(rng.int(1400)); // random garbage
  const base = template(rng);
  return r < 5 ? base : mutate(rng, r < 8 ? base : mutate(rng, base));
}

describe('TFTP fuzz', () => {
  let dir: string;
  let root: string;
  let h: Harness;
  const bootData = randomBytes(200_000);
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown): void => {
    uncaught.push(err);
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'rackboot-tftp-fuzz-'));
    root = path.join(dir, 'root');
    await mkdir(root);
    await writeFile(path.join(root, 'boot.bin'), bootData);
    await writeFile(path.join(root, 'small.txt'), 'hello\n');
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    // Short timers so transfers started by fuzzed RRQs expire quickly; caps above the defaults so fuzzed
    // requests reach real transfers as well as the "server busy" path.
    h = await startHarness(root, { timeoutMs: 40, retries: 2, maxTransfers: 64, maxPerClient: 32 });
  });

  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    await h?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(`survives ≥ ${NET_TARGET} malformed datagrams to the request port and to live transfer ports, then serves normally`, async () => {
    const rng = new Prng(NET_SEED);
    const open = async (): Promise<dgram.Socket> => {
      const s = dgram.createSocket('udp4');
      s.on('message', () => undefined); // replies (ERROR 1/2/4/5, DATA, OACK) are not needed
      s.on('error', () => undefined);
      await new Promise<void>((resolve) => s.bind({ address: '127.0.0.1', port: 0 }, () => resolve()));
      return s;
    };
    const foreign = await Promise.all([1, 2, 3].map(open));
    let sent = 0;
    let sendErrors = 0;
    let rounds = 0;
    let liveRounds = 0;
    // Datagrams that the server must answer with an event if it reads them (see the assertion below).
    let expectedEvents = 0;
    const send = (s: dgram.Socket, buf: Buffer, port: number): Promise<void> =>
      new Promise((resolve) =>
        s.send(buf, port, '127.0.0.1', (err) => {
          if (err) sendErrors++;
          else sent++;
          resolve();
        }),
      );

    while (sent < NET_TARGET) {
      rounds++;
      // A live transfer to attack: a victim client that gets the first answer and then stops ACKing.
      const victim = await open();
      const first = new Promise<{ port: number; op: string } | null>((resolve) => {
        const t = setTimeout(() => resolve(null), 2000);
        victim.once('message', (msg, rinfo) => {
          clearTimeout(t);
          const p = parsePacket(msg);
          resolve({ port: rinfo.port, op: p.ok ? p.packet.op : '?' });
        });
      });
      expectedEvents++; // its 'request'
      await send(victim, encodeRequest('RRQ', 'boot.bin', 'octet', rng.pick(OPTION_SETS.slice(0, 4))), h.port);
      const reply = await first;
      const tid = reply && reply.op !== 'ERROR' ? reply.port : null;
      if (tid !== null) liveRounds++;
      const batch: Array<Promise<void>> = [];
      // A valid ERROR from the victim ends its transfer, so those go last; everything after it would hit a
      // closed port.
      const victimErrors: Buffer[] = [];
      for (let i = 0; i < BATCH; i++) {
        const target = rng.int(3);
        const d = fuzzDatagram(rng);
        if (target === 0 || tid === null) {
          expectedEvents++;
          batch.push(send(rng.pick(foreign), d, h.port));
        } else if (target === 1) {
          expectedEvents++;
          batch.push(send(rng.pick(foreign), d, tid));
        } else {
          const p = parsePacket(d);
          if (p.ok && p.packet.op === 'ERROR') victimErrors.push(d);
          else {
            if (!(p.ok && p.packet.op === 'ACK')) expectedEvents++; // valid ACKs are handled silently
            batch.push(send(victim, d, tid));
          }
        }
      }
      await Promise.all(batch);
      if (tid !== null && victimErrors[0]) {
        expectedEvents++;
        await Promise.all(victimErrors.map((d) => send(victim, d, tid)));
      }
      await sleep(1);
      victim.close();
    }

    await Promise.all(foreign.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    await h.idle(60_000);
    const count = (type: TftpEvent['type']): number => h.events.filter((e) => e.type === type).length;
    // Each datagram to the request port yields 'malformed', 'request' or (WRQ) 'denied'; each one on a
    // transfer port yields 'malformed' (foreign TID, runt, garbage, unexpected opcode) or, for the
    // victim's ERROR, 'aborted'. Only repeated identical RRQs are silent.
    const observedEvents =
      count('malformed') +
      count('request') +
      h.events.filter((e) => (e.type === 'denied' && e.reason === 'uploads are disabled') || (e.type === 'aborted' && e.reason.startsWith('client sent ERROR'))).length;
    const figures = {
      seed: NET_SEED,
      sent,
      sendErrors,
      rounds,
      liveRounds,
      expectedEvents,
      observedEvents,
      malformed: count('malformed'),
      requests: count('request'),
      denied: count('denied'),
      aborted: count('aborted'),
      complete: count('complete'),
      filesOpened: h.files.opened,
      filesClosed: h.files.closed,
      uncaught: uncaught.length,
    };
    process.stdout.write(`tftp network fuzz: ${JSON.stringify(figures)}\n`);

    expect(uncaught).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(NET_TARGET);
    expect(liveRounds).toBeGreaterThan(rounds / 2);
    // Evidence that the server read the datagrams rather than the kernel dropping them.
    expect(observedEvents).toBeGreaterThan(expectedEvents * 0.9);
    expect(h.server.activeTransfers()).toBe(0);
    expect(h.files.closed).toBe(h.files.opened);

    // Still alive and correct.
    const r = await tftpGet({ port: h.port, filename: 'boot.bin', options: { blksize: '1468', windowsize: '4', tsize: '0' } });
    expect(r.error).toBeNull();
    expect(sha256(r.data)).toBe(sha256(bootData));
    const plain = await tftpGet({ port: h.port, filename: 'boot.bin' });
    expect(sha256(plain.data)).toBe(sha256(bootData));
  }, 600_000);

  it(`parsePacket never throws on ${PARSE_TARGET} random and mutated inputs, and what it accepts re-encodes to the same packet`, () => {
    const rng = new Prng(PARSE_SEED);
    let accepted = 0;
    let rejected = 0;
    const mismatches: string[] = [];
    for (let i = 0; i < PARSE_TARGET; i++) {
      const input = i % 4 === 0 ? rng.bytes(rng.int(700)) : mutate(rng, template(rng));
      let result: ReturnType<typeof parsePacket>;
      try {
        result = parsePacket(input);
      } catch (err) {
        throw new Error(`parsePacket threw on ${input.toString('hex')}: ${String(err)}`);
      }
      if (!result.ok) {
        expect(typeof result.reason === 'string' && result.reason.length > 0).toBe(true);
        rejected++;
        continue;
      }
      accepted++;
      const again = parsePacket(encodePacket(result.packet));
      if (!again.ok || !isDeepStrictEqual({ ...again.packet }, { ...result.packet })) {
        if (mismatches.length < 5) mismatches.push(input.toString('hex'));
      }
    }
    process.stdout.write(`tftp parse fuzz: ${JSON.stringify({ seed: PARSE_SEED, inputs: PARSE_TARGET, accepted, rejected, mismatches: mismatches.length })}\n`);
    expect(accepted + rejected).toBe(PARSE_TARGET);
    expect(accepted).toBeGreaterThan(PARSE_TARGET / 10);
    expect(mismatches).toEqual([]);
  }, 120_000);
});
