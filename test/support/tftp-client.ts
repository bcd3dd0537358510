// Minimal TFTP read client for tests: RRQ with options, RFC 7440 windowed ACKing, and knobs real clients
// lack (duplicate ACKs, seeded loss, aborting after the OACK like EDK2, packet injection hooks).
import dgram from 'node:dgram';
import { encodeAck, encodeError, encodeRequest, ErrorCode, parsePacket } from '../../server/tftp/packet.js';
import { Prng } from './prng.js';

export interface TftpGetOptions {
  host?: string;
  port: number;
  filename: string;
  mode?: string;
  options?: Record<string, string> | Array<[string, string]>;
  /** Extra copies of every ACK sent (1 = each ACK twice). */
  duplicateAcks?: number;
  /** Drop this fraction of datagrams in both directions, from a seeded PRNG. */
  loss?: { rate: number; seed: number };
  /** Client retransmission timer. */
  timeoutMs?: number;
  /** Consecutive timeouts before giving up (the promise then rejects). */
  retries?: number;
  /** Send this ERROR instead of ACK 0 after the OACK (the EDK2 tsize probe). */
  abortAfterOack?: { code: number; message: string };
  /** After the last block, keep re-ACKing retransmitted final blocks for this long (RFC 1350 dally). */
  dallyMs?: number;
  /** Called for every datagram accepted from the server's TID; send() injects from the client's socket. */
  onPacket?(info: { op: string; block: number; serverPort: number; send(buf: Buffer): void }): void;
}

export interface TftpGetResult {
  data: Buffer;
  oack: Record<string, string> | null;
  error: { code: number; message: string } | null;
  serverPort: number;
  /** DATA packets that reached the client (after simulated loss), duplicates included. */
  dataPackets: number;
  duplicateDataPackets: number;
  acksSent: number;
  /** ERROR 5 packets the client sent to foreign ports. */
  foreignPackets: number;
}

export function tftpGet(o: TftpGetOptions): Promise<TftpGetResult> {
  const host = o.host ?? '127.0.0.1';
  const timeoutMs = o.timeoutMs ?? 500;
  const maxRetries = o.retries ?? 10;
  const rng = o.loss ? new Prng(o.loss.seed) : null;
  const lost = (): boolean => rng !== null && rng.next() < (o.loss?.rate ?? 0);
  const socket = dgram.createSocket('udp4');

  return new Promise<TftpGetResult>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let serverPort = -1;
    let oack: Record<string, string> | null = null;
    let blksize = 512;
    let windowsize = 1;
    let expected = 1; // absolute number of the next block wanted
    let inWindow = 0;
    let gapAcked = false;
    let finished = false;
    let settled = false;
    let retries = 0;
    let timer: NodeJS.Timeout | null = null;
    const res: Omit<TftpGetResult, 'data' | 'oack' | 'serverPort'> = {
      error: null,
      dataPackets: 0,
      duplicateDataPackets: 0,
      acksSent: 0,
      foreignPackets: 0,
    };
    const rrq = encodeRequest('RRQ', o.filename, o.mode ?? 'octet', o.options ?? []);

    let inflight = 0;
    let onDrained: (() => void) | null = null;
    const raw = (buf: Buffer, port: number, address = host): void => {
      inflight++;
      socket.send(buf, port, address, () => {
        if (--inflight === 0 && onDrained) {
          const f = onDrained;
          onDrained = null;
          f();
        }
      });
    };
    const send = (buf: Buffer, port: number): void => {
      if (lost()) return;
      raw(buf, port);
    };
    const sendAck = (block: number): void => {
      inWindow = 0;
      for (let i = 0; i <= (o.duplicateAcks ?? 0); i++) {
        res.acksSent++;
        send(encodeAck(block & 0xffff), serverPort);
      }
    };
    // Closing drops queued datagrams (the final ACK), so wait for pending sends first.
    const close = (): void => {
      if (timer) clearTimeout(timer);
      timer = null;
      if (inflight === 0) socket.close();
      else onDrained = () => socket.close();
    };
    const finish = (): void => {
      if (settled) return;
      settled = true;
      const done = (): void => {
        close();
        resolve({ ...res, data: Buffer.concat(chunks), oack, serverPort });
      };
      if (finished && (o.dallyMs ?? 0) > 0) {
        if (timer) clearTimeout(timer);
        timer = setTimeout(done, o.dallyMs);
      } else done();
    };
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      close();
      reject(err);
    };
    const arm = (): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        if (settled) return;
        if (++retries > maxRetries) {
          fail(new Error(`tftpGet ${o.filename}: timeout waiting for block ${expected}`));
          return;
        }
        // RFC 7440: on timeout, ACK the last block received in order (0 right after the OACK).
        if (serverPort < 0) send(rrq, o.port);
        else sendAck(expected - 1);
        arm();
      }, timeoutMs);
    };

    socket.on('error', (err) => fail(err));
    socket.on('message', (msg, rinfo) => {
      if (lost()) return;
      if (serverPort < 0) serverPort = rinfo.port;
      else if (rinfo.port !== serverPort) {
        res.foreignPackets++;
        raw(encodeError(ErrorCode.UNKNOWN_TID, 'unknown transfer ID'), rinfo.port, rinfo.address);
        return;
      }
      const parsed = parsePacket(msg);
      if (!parsed.ok) return;
      const p = parsed.packet;
      o.onPacket?.({
        op: p.op,
        block: p.op === 'DATA' || p.op === 'ACK' ? p.block : -1,
        serverPort,
        send: (buf) => raw(buf, serverPort),
      });
      if (p.op === 'ERROR') {
        res.error = { code: p.code, message: p.message };
        finish();
        return;
      }
      if (p.op === 'OACK') {
        if (expected !== 1) return;
        oack = { ...p.options };
        blksize = Number(oack['blksize'] ?? 512);
        windowsize = Number(oack['windowsize'] ?? 1);
        if (o.abortAfterOack) {
          send(encodeError(o.abortAfterOack.code, o.abortAfterOack.message), serverPort);
          finish();
          return;
        }
        retries = 0;
        sendAck(0);
        arm();
        return;
      }
      if (p.op !== 'DATA') return;
      res.dataPackets++;
      if (p.block === (expected & 0xffff) && !finished) {
        chunks.push(Buffer.from(p.data));
        expected++;
        inWindow++;
        retries = 0;
        gapAcked = false;
        if (p.data.length < blksize) {
          finished = true;
          sendAck(p.block);
          finish();
          return;
        }
        if (inWindow >= windowsize) sendAck(p.block);
        arm();
        return;
      }
      res.duplicateDataPackets++;
      // A retransmitted final block means our last ACK was lost; re-ACK it while dallying.
      if (finished) {
        if (p.block === ((expected - 1) & 0xffff)) sendAck(p.block);
        return;
      }
      // Gap or old block: ACK the last in-order block once per gap (RFC 7440 receiver behaviour).
      if (!gapAcked) {
        gapAcked = true;
        sendAck(expected - 1);
      }
    });
    socket.bind({ address: host, port: 0 }, () => {
      send(rrq, o.port);
      arm();
    });
  });
}
