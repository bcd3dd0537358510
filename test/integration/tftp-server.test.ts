// Real-UDP tests of the TFTP server on 127.0.0.1: real clients (tftp-hpa, curl, atftp), protocol steps with
// a raw socket, the npm `tftp` defects as regression tests, loss through a relay, caps and shutdown.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeAck, encodeData, encodeError, encodeRequest, ErrorCode } from '../../server/tftp/packet.js';
import { TftpServer, type TftpEvent, type TftpOpenResult } from '../../server/tftp/server.js';
import { tftpGet } from '../support/tftp-client.js';
import { run, sha256, sha256File, startHarness, waitFor, type Harness } from '../support/tftp-harness.js';
import { RawPeer } from '../support/tftp-peer.js';
import { startLossyRelay } from '../support/tftp-relay.js';

const ONE_MB = 1024 * 1024 + 77; // odd size: short final block
const BIG = 34 * 1024 * 1024 + 123; // > 65536 * 512: block numbers wrap at 512-byte blocks
const EXACT = 512 * 64; // exact multiple: ends with a zero-length DATA block

let dir: string;
let root: string;
let outside: string;
let work: string;
const sums = new Map<string, string>();
let h: Harness;

async function writeRandom(name: string, size: number): Promise<void> {
  const data = randomBytes(size);
  sums.set(name, sha256(data));
  await writeFile(path.join(root, name), data);
}

function ofType<T extends TftpEvent['type']>(events: TftpEvent[], type: T): Array<Extract<TftpEvent, { type: T }>> {
  return events.filter((e): e is Extract<TftpEvent, { type: T }> => e.type === type);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'rackboot-tftp-'));
  root = path.join(dir, 'root');
  outside = path.join(dir, 'outside');
  work = path.join(dir, 'work');
  await Promise.all([mkdir(root), mkdir(outside), mkdir(work)]);
  await writeRandom('one-mb.bin', ONE_MB);
  await writeRandom('big.bin', BIG);
  await writeRandom('exact.bin', EXACT);
  await writeRandom('quarter.bin', 256 * 1024 + 5);
  await writeRandom('empty.bin', 0);
  await mkdir(path.join(root, 'sub'));
  await writeRandom('sub/inner.bin', 3000);
  await writeFile(path.join(root, 'text.txt'), 'line one\nline two\r\nlone\rcr\n\n\rend');
  await writeFile(path.join(outside, 'secret.bin'), 'top secret');
  await symlink(path.join(outside, 'secret.bin'), path.join(root, 'escape.bin'));
  await symlink(outside, path.join(root, 'escape-dir'));
  await symlink('sub/inner.bin', path.join(root, 'inner-link.bin'));
  h = await startHarness(root, { timeoutMs: 300 });
}, 120_000);

afterAll(async () => {
  await h?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function out(name: string): Promise<string> {
  return path.join(work, name);
}

describe('real clients', () => {
  const cases: Array<{ client: string; file: string; args: (port: number, file: string, dest: string) => [string, string[]] }> = [];
  for (const file of ['one-mb.bin', 'big.bin']) {
    cases.push(
      { client: 'tftp-hpa (512, no options)', file, args: (p, f, d) => ['tftp', ['-m', 'binary', '127.0.0.1', String(p), '-c', 'get', f, d]] },
      { client: 'curl default', file, args: (p, f, d) => ['curl', ['-sS', `tftp://127.0.0.1:${p}/${f}`, '-o', d]] },
      { client: 'curl --tftp-blksize 1468', file, args: (p, f, d) => ['curl', ['-sS', '--tftp-blksize', '1468', `tftp://127.0.0.1:${p}/${f}`, '-o', d]] },
      {
        client: 'atftp blksize 1468 windowsize 8 tsize 0',
        file,
        args: (p, f, d) => ['atftp', ['--option', 'blksize 1468', '--option', 'windowsize 8', '--option', 'tsize 0', '-g', '-r', f, '-l', d, '127.0.0.1', String(p)]],
      },
      {
        client: 'atftp blksize 512 windowsize 8 (windows across the wrap)',
        file,
        args: (p, f, d) => ['atftp', ['--option', 'blksize 512', '--option', 'windowsize 8', '-g', '-r', f, '-l', d, '127.0.0.1', String(p)]],
      },
    );
  }

  for (const c of cases) {
    it(`${c.client}: ${c.file} arrives intact`, async () => {
      const dest = await out(`${c.client.replace(/\W+/g, '_')}-${c.file}`);
      const [cmd, args] = c.args(h.port, c.file, dest);
      const r = await run(cmd, args, { cwd: work, timeoutMs: 240_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(await sha256File(dest)).toBe(sums.get(c.file));
      await rm(dest);
    }, 300_000);
  }

  it('tftp-hpa: exact-multiple and empty files (zero-length final DATA)', async () => {
    for (const f of ['exact.bin', 'empty.bin']) {
      const dest = await out(`hpa-${f}`);
      const r = await run('tftp', ['-m', 'binary', '127.0.0.1', String(h.port), '-c', 'get', f, dest], { cwd: work, timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(await sha256File(dest)).toBe(sums.get(f));
    }
  }, 120_000);

  it('tftp-hpa netascii mode: the client converts back to the original text', async () => {
    const dest = await out('text.txt');
    const r = await run('tftp', ['-m', 'ascii', '127.0.0.1', String(h.port), '-c', 'get', 'text.txt', dest], { cwd: work, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(dest, 'latin1')).toBe(await readFile(path.join(root, 'text.txt'), 'latin1'));
  }, 120_000);

  it('curl: a missing file is reported as TFTP "file not found" (exit 68)', async () => {
    const before = ofType(h.events, 'denied').length;
    const r = await run('curl', ['-sS', `tftp://127.0.0.1:${h.port}/no-such-file`, '-o', await out('missing')], { cwd: work, timeoutMs: 60_000 });
    expect(r.code).toBe(68);
    const denied = ofType(h.events, 'denied').slice(before);
    expect(denied).toEqual([expect.objectContaining({ filename: 'no-such-file', code: ErrorCode.FILE_NOT_FOUND })]);
  }, 120_000);

  it('own client: 512-byte blocks with windowsize 16 across the block-number wrap', async () => {
    const r = await tftpGet({ port: h.port, filename: 'big.bin', options: { blksize: '512', windowsize: '16', tsize: '0' } });
    expect(r.error).toBeNull();
    expect(r.oack).toEqual({ blksize: '512', windowsize: '16', tsize: String(BIG) });
    expect(sha256(r.data)).toBe(sums.get('big.bin'));
  }, 300_000);

  it('every file opened by the clients above was closed', async () => {
    await h.idle();
    expect(h.files.closed).toBe(h.files.opened);
  }, 60_000);
});

describe('option negotiation', () => {
  async function oackFor(options: Array<[string, string]>, file = 'one-mb.bin'): Promise<Record<string, string> | null> {
    const peer = await RawPeer.open();
    try {
      await peer.send(encodeRequest('RRQ', file, 'octet', options), h.port);
      const r = await peer.next();
      // Leave the transfer with an error so it ends at once.
      await peer.send(encodeError(0, 'test done'), r.port);
      if (r.packet?.op === 'OACK') return { ...r.packet.options };
      expect(r.packet?.op).toBe('DATA');
      return null;
    } finally {
      await peer.close();
    }
  }

  it('EDK2 request: tsize 0 blksize 1468 windowsize 4', async () => {
    expect(await oackFor([['tsize', '0'], ['blksize', '1468'], ['windowsize', '4']])).toEqual({ tsize: String(ONE_MB), blksize: '1468', windowsize: '4' });
  });

  it('iPXE undionly request: blksize 1432 tsize 0', async () => {
    expect(await oackFor([['blksize', '1432'], ['tsize', '0']])).toEqual({ blksize: '1432', tsize: String(ONE_MB) });
  });

  it('option names are case-insensitive', async () => {
    expect(await oackFor([['BLKSIZE', '1024'], ['TSize', '0'], ['WindowSize', '2']])).toEqual({ blksize: '1024', tsize: String(ONE_MB), windowsize: '2' });
  });

  it('blksize is clamped to [8, blockSizeMax] and windowsize to [1, windowSizeMax]', async () => {
    expect(await oackFor([['blksize', '65464'], ['windowsize', '1000']])).toEqual({ blksize: '1468', windowsize: '16' });
    expect(await oackFor([['blksize', '4'], ['windowsize', '0']])).toEqual({ blksize: '8', windowsize: '1' });
  });

  it('tsize is answered for any value, including atftp\'s "enable"', async () => {
    expect(await oackFor([['tsize', 'enable']])).toEqual({ tsize: String(ONE_MB) });
  });

  it('timeout is echoed when 1..255 and left out otherwise', async () => {
    expect(await oackFor([['timeout', '3']])).toEqual({ timeout: '3' });
    expect(await oackFor([['timeout', '0'], ['tsize', '0']])).toEqual({ tsize: String(ONE_MB) });
    expect(await oackFor([['timeout', '256'], ['tsize', '0']])).toEqual({ tsize: String(ONE_MB) });
  });

  it('unknown or unusable options only: no OACK, the transfer starts with DATA 1', async () => {
    expect(await oackFor([['rollover', '0'], ['blksize', 'abc'], ['multicast', '']])).toBeNull();
    expect(await oackFor([])).toBeNull();
  });

  it('the negotiated blksize is used for DATA and the request event carries the options', async () => {
    const r = await tftpGet({ port: h.port, filename: 'sub/inner.bin', options: [['blksize', '1000'], ['tsize', '0']] });
    expect(r.oack).toEqual({ blksize: '1000', tsize: '3000' });
    expect(r.dataPackets).toBe(4); // 1000 + 1000 + 1000 + 0
    expect(sha256(r.data)).toBe(sums.get('sub/inner.bin'));
    expect(ofType(h.events, 'request').some((e) => e.filename === 'sub/inner.bin' && e.options['blksize'] === '1000')).toBe(true);
    await waitFor(() => ofType(h.events, 'complete').some((e) => e.filename === 'sub/inner.bin' && e.blksize === 1000 && e.bytes === 3000));
  });

  it('a client timeout option replaces the server timer', async () => {
    const slow = await startHarness(root, { timeoutMs: 60_000 });
    const peer = await RawPeer.open();
    try {
      await peer.send(encodeRequest('RRQ', 'one-mb.bin', 'octet', [['timeout', '1']]), slow.port);
      const first = await peer.next();
      expect(first.packet).toEqual({ op: 'OACK', options: { timeout: '1' } });
      // Not ACKed: the OACK comes again after ~1 s, long before the server's own 60 s timer.
      const again = await peer.next(15_000);
      expect(again.packet).toEqual({ op: 'OACK', options: { timeout: '1' } });
    } finally {
      await peer.close();
      await slow.stop();
    }
  }, 30_000);
});

describe('windowed sending (RFC 7440) step by step', () => {
  it('full ACK slides the window, partial ACK resends from the next block, old ACKs are ignored', async () => {
    const s = await startHarness(root, { timeoutMs: 30_000 });
    const peer = await RawPeer.open();
    const blocksOf = (rs: Array<{ packet: unknown }>): number[] =>
      rs.map((r) => {
        const p = r.packet as { op: string; block: number };
        return p.op === 'DATA' ? p.block : -1;
      });
    try {
      await peer.send(encodeRequest('RRQ', 'one-mb.bin', 'octet', [['blksize', '512'], ['windowsize', '4']]), s.port);
      const oack = await peer.next();
      expect(oack.packet?.op).toBe('OACK');
      const tid = oack.port;
      await peer.send(encodeAck(0), tid);
      const w1 = [await peer.next(), await peer.next(), await peer.next(), await peer.next()];
      expect(blocksOf(w1)).toEqual([1, 2, 3, 4]);
      await peer.send(encodeAck(2), tid); // partial: 3 and 4 "lost"
      const w2 = [await peer.next(), await peer.next(), await peer.next(), await peer.next()];
      expect(blocksOf(w2)).toEqual([3, 4, 5, 6]);
      await peer.send(encodeAck(2), tid); // duplicate of an ACK before the window: ignored
      await peer.send(encodeAck(0), tid); // stale ACK: ignored
      expect(await peer.collect(300)).toEqual([]);
      await peer.send(encodeAck(6), tid); // last block of the window: slide
      const w3 = [await peer.next(), await peer.next(), await peer.next(), await peer.next()];
      expect(blocksOf(w3)).toEqual([7, 8, 9, 10]);
      expect(w3.every((r) => r.port === tid)).toBe(true);
      await peer.send(encodeError(0, 'done'), tid);
    } finally {
      await peer.close();
      await s.stop();
    }
  }, 30_000);

  it('a stalled client gets exactly 1 + retries copies of the window, then ERROR and an aborted event; the file is closed', async () => {
    const s = await startHarness(root, { timeoutMs: 100, retries: 3 });
    const peer = await RawPeer.open();
    try {
      await peer.send(encodeRequest('RRQ', 'one-mb.bin', 'octet'), s.port);
      const got: number[] = [];
      for (;;) {
        const r = await peer.next(10_000);
        if (r.packet?.op === 'DATA') got.push(r.packet.block);
        else {
          expect(r.packet).toMatchObject({ op: 'ERROR', code: 0 });
          break;
        }
      }
      expect(got).toEqual([1, 1, 1, 1]);
      await s.idle();
      expect(ofType(s.events, 'aborted')).toEqual([expect.objectContaining({ filename: 'one-mb.bin', reason: expect.stringMatching(/timeout/) })]);
      expect(s.files).toEqual({ opened: 1, closed: 1 });
    } finally {
      await peer.close();
      await s.stop();
    }
  }, 30_000);

  it('a retransmitted RRQ from the same port does not start a second transfer', async () => {
    const s = await startHarness(root, { timeoutMs: 30_000 });
    const peer = await RawPeer.open();
    try {
      const rrq = encodeRequest('RRQ', 'one-mb.bin', 'octet', [['tsize', '0']]);
      await peer.send(rrq, s.port);
      await peer.send(rrq, s.port);
      const first = await peer.next();
      expect(first.packet?.op).toBe('OACK');
      expect(await peer.collect(300)).toEqual([]);
      expect(s.server.activeTransfers()).toBe(1);
      expect(ofType(s.events, 'request')).toHaveLength(1);
    } finally {
      await peer.close();
      await s.stop();
    }
  }, 30_000);
});

describe('regressions for the defects measured in the npm tftp package', () => {
  it('defect 1, runt datagram crash: 0/1/3-byte datagrams to a transfer port and to the main port are dropped and the transfer completes', async () => {
    const before = h.events.length;
    const foreign = await RawPeer.open();
    let injected = false;
    const r = await tftpGet({
      port: h.port,
      filename: 'one-mb.bin',
      options: { blksize: '1468', windowsize: '4' },
      onPacket: (info) => {
        if (injected || info.op !== 'DATA' || info.block !== 20) return;
        injected = true;
        // From the client's own port (passes the TID check, reaches the parser) ...
        for (const len of [0, 1, 3]) info.send(Buffer.from([0, 4, 0].slice(0, len)));
        // ... and from another port, to the transfer port and the main port.
        for (const len of [0, 1, 3]) {
          void foreign.send(Buffer.from([0, 5, 0].slice(0, len)), info.serverPort);
          void foreign.send(Buffer.from([0, 1, 0].slice(0, len)), h.port);
        }
      },
    });
    expect(injected).toBe(true);
    expect(r.error).toBeNull();
    expect(sha256(r.data)).toBe(sums.get('one-mb.bin'));
    await waitFor(() => h.events.slice(before).filter((e) => e.type === 'malformed' && /runt/.test(e.reason)).length >= 6, 10_000, 'runt events');
    await foreign.close();
    // Still serving.
    const again = await tftpGet({ port: h.port, filename: 'sub/inner.bin' });
    expect(sha256(again.data)).toBe(sums.get('sub/inner.bin'));
  }, 60_000);

  it('defect 2, no transfer-ID check: packets from a foreign port get ERROR 5 and the transfer still completes', async () => {
    const foreign = await RawPeer.open();
    let injected = false;
    const r = await tftpGet({
      port: h.port,
      filename: 'one-mb.bin',
      options: { blksize: '1468' },
      onPacket: (info) => {
        if (injected || info.op !== 'DATA' || info.block !== 10) return;
        injected = true;
        // A spoofed abort and a spoofed ACK far ahead: neither may touch the transfer.
        void foreign.send(encodeError(ErrorCode.OPTION_REFUSED, 'spoofed'), info.serverPort);
        void foreign.send(encodeAck(500), info.serverPort);
      },
    });
    expect(r.error).toBeNull();
    expect(sha256(r.data)).toBe(sums.get('one-mb.bin'));
    const reply = await foreign.next(5000);
    expect(reply.packet).toEqual({ op: 'ERROR', code: ErrorCode.UNKNOWN_TID, message: 'unknown transfer ID' });
    // The spoofed ERROR itself is not answered (no error ping-pong).
    expect(await foreign.collect(200)).toEqual([]);
    await foreign.close();
  }, 60_000);

  for (const windowsize of [1, 8]) {
    it(`defect 3, duplicate ACKs corrupt the send window: a client ACKing every block twice (windowsize ${windowsize}) gets the file with bounded DATA`, async () => {
      const r = await tftpGet({
        port: h.port,
        filename: 'one-mb.bin',
        options: { blksize: '512', windowsize: String(windowsize) },
        duplicateAcks: 1,
      });
      const blocks = Math.floor(ONE_MB / 512) + 1;
      expect(r.error).toBeNull();
      expect(sha256(r.data)).toBe(sums.get('one-mb.bin'));
      expect(r.dataPackets).toBeGreaterThanOrEqual(blocks);
      expect(r.dataPackets).toBeLessThan(2 * blocks);
    }, 120_000);
  }

  it('defect 4, uploads allowed by default: WRQ is refused with ERROR 2 and no file is created', async () => {
    const listing = async (): Promise<string[]> => (await readdir(root)).sort();
    const before = await listing();
    await writeFile(path.join(work, 'upload.bin'), 'payload');
    const peer = await RawPeer.open();
    try {
      await peer.send(encodeRequest('WRQ', 'upload.bin', 'octet'), h.port);
      expect((await peer.next()).packet).toEqual({ op: 'ERROR', code: ErrorCode.ACCESS_VIOLATION, message: 'uploads are disabled' });
      // Overwriting an existing file is refused the same way.
      await peer.send(encodeRequest('WRQ', 'one-mb.bin', 'octet'), h.port);
      expect((await peer.next()).packet).toMatchObject({ op: 'ERROR', code: ErrorCode.ACCESS_VIOLATION });
    } finally {
      await peer.close();
    }
    const hpa = await run('tftp', ['-m', 'binary', '127.0.0.1', String(h.port), '-c', 'put', 'upload.bin', 'hpa-upload.bin'], { cwd: work, timeoutMs: 30_000 });
    expect(hpa.stderr + hpa.stdout).toMatch(/uploads are disabled/);
    const atftp = await run('atftp', ['-p', '-l', 'upload.bin', '-r', 'atftp-upload.bin', '127.0.0.1', String(h.port)], { cwd: work, timeoutMs: 30_000 });
    expect(atftp.code).not.toBe(0);
    expect(await listing()).toEqual(before);
    expect(sha256(await readFile(path.join(root, 'one-mb.bin')))).toBe(sums.get('one-mb.bin'));
    expect(ofType(h.events, 'denied').filter((e) => e.reason === 'uploads are disabled').length).toBeGreaterThanOrEqual(4);
  }, 60_000);

  it('defect 5, symlinks followed out of the root: a link to a file or directory outside is refused, regular files are served', async () => {
    for (const name of ['escape.bin', 'escape-dir/secret.bin', '../outside/secret.bin', 'sub/../../outside/secret.bin']) {
      const r = await tftpGet({ port: h.port, filename: name });
      expect(r.error, name).toEqual({ code: ErrorCode.ACCESS_VIOLATION, message: 'access violation' });
      expect(r.data.length).toBe(0);
    }
    const curl = await run('curl', ['-sS', `tftp://127.0.0.1:${h.port}/escape.bin`, '-o', await out('escape.bin')], { cwd: work, timeoutMs: 30_000 });
    expect(curl.code).not.toBe(0);
    // Served: a regular file, a link that stays inside, and the usual spellings of a path.
    for (const name of ['sub/inner.bin', 'inner-link.bin', '/sub/inner.bin', 'sub\\inner.bin', './sub//inner.bin']) {
      const r = await tftpGet({ port: h.port, filename: name });
      expect(r.error, name).toBeNull();
      expect(sha256(r.data), name).toBe(sums.get('sub/inner.bin'));
    }
    for (const name of ['sub', 'missing.bin', '', '/']) {
      const r = await tftpGet({ port: h.port, filename: name });
      expect(r.error?.code, name).toBe(ErrorCode.FILE_NOT_FOUND);
    }
  }, 60_000);

  it('defect 6, client abort crashes the handler: the EDK2 tsize probe (OACK then ERROR 8) is an aborted event and the server keeps serving', async () => {
    const before = h.events.length;
    const options: Array<[string, string]> = [['tsize', '0'], ['blksize', '1468'], ['windowsize', '4']];
    const probe = await tftpGet({ port: h.port, filename: 'one-mb.bin', options, abortAfterOack: { code: 8, message: 'User aborted the transfer' } });
    expect(probe.oack).toEqual({ tsize: String(ONE_MB), blksize: '1468', windowsize: '4' });
    await waitFor(() => h.events.slice(before).some((e) => e.type === 'aborted'), 10_000, 'aborted event');
    const aborted = ofType(h.events.slice(before), 'aborted');
    expect(aborted).toEqual([expect.objectContaining({ filename: 'one-mb.bin', bytesSent: 0, reason: expect.stringMatching(/ERROR 8/) })]);
    // The real fetch that follows, as EDK2 does.
    const fetch = await tftpGet({ port: h.port, filename: 'one-mb.bin', options });
    expect(sha256(fetch.data)).toBe(sums.get('one-mb.bin'));
    await h.idle();
    expect(h.files.closed).toBe(h.files.opened);
  }, 60_000);

  it('resource growth under request floods: concurrency caps answer ERROR 0 "server busy"', async () => {
    const s = await startHarness(root, { timeoutMs: 30_000, maxPerClient: 2, maxTransfers: 3 });
    const peers = await Promise.all([1, 2, 3].map(() => RawPeer.open()));
    try {
      const [p1, p2, p3] = peers as [RawPeer, RawPeer, RawPeer];
      for (const p of [p1, p2]) {
        await p.send(encodeRequest('RRQ', 'one-mb.bin', 'octet'), s.port);
        expect((await p.next()).packet?.op).toBe('DATA');
      }
      await p3.send(encodeRequest('RRQ', 'one-mb.bin', 'octet'), s.port);
      expect((await p3.next()).packet).toEqual({ op: 'ERROR', code: 0, message: 'server busy' });
      expect(s.server.activeTransfers()).toBe(2);
      expect(ofType(s.events, 'denied')).toEqual([expect.objectContaining({ code: 0, reason: expect.stringMatching(/per-client/) })]);
    } finally {
      await Promise.all(peers.map((p) => p.close()));
      await s.stop();
    }
    const g = await startHarness(root, { timeoutMs: 30_000, maxPerClient: 10, maxTransfers: 2 });
    const gp = await Promise.all([1, 2, 3].map(() => RawPeer.open()));
    try {
      for (const p of gp.slice(0, 2)) {
        await p.send(encodeRequest('RRQ', 'one-mb.bin', 'octet'), g.port);
        expect((await p.next()).packet?.op).toBe('DATA');
      }
      await gp[2]?.send(encodeRequest('RRQ', 'one-mb.bin', 'octet'), g.port);
      expect((await gp[2]?.next())?.packet).toEqual({ op: 'ERROR', code: 0, message: 'server busy' });
      expect(ofType(g.events, 'denied')).toEqual([expect.objectContaining({ code: 0, reason: expect.stringMatching(/transfer limit/) })]);
    } finally {
      await Promise.all(gp.map((p) => p.close()));
      await g.stop();
    }
    expect(g.files).toEqual({ opened: 2, closed: 2 });
  }, 60_000);
});

describe('lossy path (5 % loss both ways through a relay)', () => {
  let lossy: Harness;
  beforeAll(async () => {
    // atftp re-ACKs a duplicate block only once and its 1 s timer restarts on every duplicate, so a doubly
    // lost ACK is only repeated once the server's backed-off interval (300, 600, 1200 ms) exceeds 1 s.
    lossy = await startHarness(root, { timeoutMs: 300, retries: 20 });
  });
  afterAll(async () => {
    await lossy.stop();
  });

  for (const seed of [1, 2, 3]) {
    it(`own client, blksize 1468 windowsize 8, seed ${seed}: intact`, async () => {
      const relay = await startLossyRelay({ serverPort: lossy.port, lossRate: 0.05, seed });
      try {
        const r = await tftpGet({
          port: relay.port,
          filename: 'one-mb.bin',
          options: { blksize: '1468', windowsize: '8', tsize: '0' },
          loss: { rate: 0, seed },
          timeoutMs: 400,
          retries: 30,
          dallyMs: 1000,
        });
        expect(r.error).toBeNull();
        expect(sha256(r.data)).toBe(sums.get('one-mb.bin'));
        expect(relay.stats.dropped).toBeGreaterThan(0);
      } finally {
        await relay.close();
      }
    }, 180_000);
  }

  it('own client, 512-byte blocks, window 1, seeded client-side loss and duplicate ACKs: intact', async () => {
    const r = await tftpGet({
      port: lossy.port,
      filename: 'sub/inner.bin',
      options: { blksize: '512' },
      loss: { rate: 0.05, seed: 42 },
      duplicateAcks: 1,
      timeoutMs: 400,
      retries: 30,
      dallyMs: 1000,
    });
    expect(sha256(r.data)).toBe(sums.get('sub/inner.bin'));
  }, 120_000);

  for (const seed of [7, 8]) {
    it(`atftp blksize 1468 through the relay, seed ${seed}: intact`, async () => {
      const relay = await startLossyRelay({ serverPort: lossy.port, lossRate: 0.05, seed });
      try {
        const dest = await out(`atftp-lossy-${seed}.bin`);
        const r = await run('atftp', ['--tftp-timeout', '1', '--option', 'blksize 1468', '-g', '-r', 'quarter.bin', '-l', dest, '127.0.0.1', String(relay.port)], {
          cwd: work,
          timeoutMs: 240_000,
        });
        expect(r.code, r.stderr).toBe(0);
        expect(await sha256File(dest)).toBe(sums.get('quarter.bin'));
        expect(relay.stats.dropped).toBeGreaterThan(0);
      } finally {
        await relay.close();
      }
    }, 300_000);
  }
});

describe('concurrency and lifecycle', () => {
  it('8 parallel downloads with different options all arrive intact', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        tftpGet({ port: h.port, filename: 'one-mb.bin', options: { blksize: String(512 + i * 128), windowsize: String(1 + i) } }),
      ),
    );
    for (const r of results) expect(sha256(r.data)).toBe(sums.get('one-mb.bin'));
  }, 120_000);

  it('stop() ends running and opening transfers, tells the clients, closes every file and socket', async () => {
    const counts = { opened: 0, closed: 0 };
    let releaseOpen: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (releaseOpen = resolve));
    const events: TftpEvent[] = [];
    const server = new TftpServer({
      host: '127.0.0.1',
      port: 0,
      timeoutMs: 30_000,
      onEvent: (e) => events.push(e),
      open: async (req): Promise<TftpOpenResult> => {
        if (req.filename === 'slow') await gate;
        counts.opened++;
        const data = Buffer.alloc(100_000, 7);
        return {
          ok: true,
          file: {
            size: data.length,
            read: async (o, l) => data.subarray(o, o + l),
            close: async () => {
              counts.closed++;
            },
          },
        };
      },
    });
    await server.start();
    const port = server.address().port;
    const peers = await Promise.all([1, 2, 3, 4].map(() => RawPeer.open()));
    try {
      for (const p of peers.slice(0, 3)) {
        await p.send(encodeRequest('RRQ', 'running', 'octet'), port);
        expect((await p.next()).packet?.op).toBe('DATA');
      }
      await peers[3]?.send(encodeRequest('RRQ', 'slow', 'octet'), port);
      await waitFor(() => server.activeTransfers() === 4, 5000, '4 transfers');
      const stopping = server.stop();
      releaseOpen();
      await stopping;
      expect(server.activeTransfers()).toBe(0);
      expect(counts).toEqual({ opened: 4, closed: 4 });
      for (const p of peers.slice(0, 3)) expect((await p.next()).packet).toEqual({ op: 'ERROR', code: 0, message: 'server shutting down' });
      expect(ofType(events, 'aborted').filter((e) => e.reason === 'server stopped')).toHaveLength(4);
      // The main port is closed: a new request gets no answer.
      await peers[0]?.send(encodeRequest('RRQ', 'running', 'octet'), port);
      expect(await peers[0]?.collect(300)).toEqual([]);
    } finally {
      await Promise.all(peers.map((p) => p.close()));
    }
  }, 30_000);

  it('start() rejects with the bind error (EADDRINUSE) so the caller can report it', async () => {
    const other = new TftpServer({ host: '127.0.0.1', port: h.port, open: async () => ({ ok: false, code: 1, message: 'x' }) });
    await expect(other.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('a throwing onEvent listener and a throwing open() do not take the server down', async () => {
    const server = new TftpServer({
      host: '127.0.0.1',
      port: 0,
      onEvent: () => {
        throw new Error('listener bug');
      },
      open: async () => {
        throw new Error('source bug');
      },
    });
    await server.start();
    try {
      const r = await tftpGet({ port: server.address().port, filename: 'x' });
      expect(r.error?.code).toBe(ErrorCode.NOT_DEFINED);
    } finally {
      await server.stop();
    }
  });

  it('an open() result with an unencodable code or message still produces a valid ERROR', async () => {
    const server = new TftpServer({ host: '127.0.0.1', port: 0, open: async () => ({ ok: false, code: 70_000, message: 'bad\0name' }) });
    await server.start();
    try {
      const r = await tftpGet({ port: server.address().port, filename: 'x' });
      expect(r.error).toEqual({ code: 0, message: 'bad name' });
      const again = await tftpGet({ port: server.address().port, filename: 'y' });
      expect(again.error?.code).toBe(0);
    } finally {
      await server.stop();
    }
  });

  it('a source whose file shrank is aborted with ERROR 0 and closed', async () => {
    let closed = 0;
    const events: TftpEvent[] = [];
    const server = new TftpServer({
      host: '127.0.0.1',
      port: 0,
      onEvent: (e) => events.push(e),
      open: async () => ({
        ok: true,
        file: { size: 10_000, read: async (o, l) => Buffer.alloc(Math.max(0, Math.min(l, 3000 - o))), close: async () => void closed++ },
      }),
    });
    await server.start();
    try {
      const r = await tftpGet({ port: server.address().port, filename: 'shrinking' });
      expect(r.error).toEqual({ code: 0, message: 'read error' });
      await waitFor(() => closed === 1, 5000, 'file close');
      expect(ofType(events, 'aborted')).toEqual([expect.objectContaining({ reason: expect.stringMatching(/read error/) })]);
    } finally {
      await server.stop();
    }
  });

  it('data on a transfer from the client itself (DATA, RRQ) is ignored, not fatal', async () => {
    const peer = await RawPeer.open();
    try {
      await peer.send(encodeRequest('RRQ', 'sub/inner.bin', 'octet'), h.port);
      const d1 = await peer.next();
      expect(d1.packet).toMatchObject({ op: 'DATA', block: 1 });
      await peer.send(encodeData(1, Buffer.from('x')), d1.port);
      await peer.send(encodeRequest('RRQ', 'one-mb.bin', 'octet'), d1.port);
      await peer.send(Buffer.from([0, 9, 1, 2, 3]), d1.port);
      const got: Buffer[] = [(d1.packet as { data: Buffer }).data];
      let block = 1;
      await peer.send(encodeAck(block), d1.port);
      for (;;) {
        const r = await peer.next();
        if (r.packet?.op !== 'DATA' || r.packet.block !== block + 1) continue;
        got.push(r.packet.data);
        block = r.packet.block;
        await peer.send(encodeAck(block), d1.port);
        if (r.packet.data.length < 512) break;
      }
      expect(sha256(Buffer.concat(got))).toBe(sums.get('sub/inner.bin'));
    } finally {
      await peer.close();
    }
  });

  it('unsupported modes are refused with ERROR 4', async () => {
    const peer = await RawPeer.open();
    try {
      await peer.send(encodeRequest('RRQ', 'one-mb.bin', 'mail'), h.port);
      expect((await peer.next()).packet).toMatchObject({ op: 'ERROR', code: ErrorCode.ILLEGAL_OPERATION });
    } finally {
      await peer.close();
    }
  });
});
