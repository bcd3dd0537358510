// A bare UDP endpoint for step-by-step protocol tests: send exact datagrams, await the next reply.
import dgram from 'node:dgram';
import { parsePacket, type TftpPacket } from '../../server/tftp/packet.js';

export interface Received {
  msg: Buffer;
  port: number;
  packet: TftpPacket | null;
}

export class RawPeer {
  private readonly queue: Received[] = [];
  private waiter: ((r: Received) => void) | null = null;

  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (msg, rinfo) => {
      const parsed = parsePacket(msg);
      const r: Received = { msg, port: rinfo.port, packet: parsed.ok ? parsed.packet : null };
      const w = this.waiter;
      if (w) {
        this.waiter = null;
        w(r);
      } else this.queue.push(r);
    });
  }

  static async open(): Promise<RawPeer> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind({ address: '127.0.0.1', port: 0 }, () => resolve()));
    return new RawPeer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(buf: Buffer, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(buf, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }

  next(timeoutMs = 5000): Promise<Received> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`no datagram within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
    });
  }

  // Everything that arrives within ms (used to show that nothing was sent in reply).
  async collect(ms: number): Promise<Received[]> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.queue.splice(0);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
