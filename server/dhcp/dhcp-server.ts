import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { classify } from './classify.js';
import type { DhcpHandler } from './handler.js';
import { Opt, u16Opt } from './options.js';
import { decodePacket, encodePacket, type DhcpPacket } from './packet.js';

export interface DhcpServerOptions {
  listen: string;
  port: number;
  /** The boot server port (4011); null when the mode has none. */
  pxePort: number | null;
  /** The address put in option 54; replies must leave from it. */
  serverIp: string;
  handler: DhcpHandler;
  log: Logger;
}

export interface DhcpCounters {
  received: number;
  malformed: number;
  ignored: number;
  replied: number;
  sendErrors: number;
  handlerErrors: number;
}

/**
 * UDP edge of the DHCP service. It receives on the listen address (0.0.0.0 sees broadcasts) and sends
 * from a socket bound to the server address, so each reply's source equals its option 54.
 * Nothing a client sends can throw past this layer.
 */
export class DhcpServer {
  readonly counters: DhcpCounters = { received: 0, malformed: 0, ignored: 0, replied: 0, sendErrors: 0, handlerErrors: 0 };
  private readonly sockets: Socket[] = [];
  private sender: Socket | null = null;
  private lastMalformedLog = 0;

  constructor(private readonly o: DhcpServerOptions) {}

  async start(): Promise<void> {
    try {
      const main = await this.bind(this.o.listen, this.o.port, 'dhcp');
      this.sender = main;
      if (this.o.listen === '0.0.0.0' && this.o.serverIp !== '0.0.0.0') {
        // Unicast to the server address (relays, renewals) lands here; replies use it as their source.
        this.sender = await this.bind(this.o.serverIp, this.o.port, 'dhcp');
      }
      if (this.o.pxePort !== null) await this.bind(this.o.listen, this.o.pxePort, 'pxe');
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.sockets.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.sender = null;
  }

  private bind(address: string, port: number, via: 'dhcp' | 'pxe'): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = createSocket({ type: 'udp4', reuseAddr: true });
      s.once('error', reject);
      s.bind(port, address, () => {
        s.off('error', reject);
        s.on('error', (err) => this.o.log.error({ err, address, port }, 'DHCP socket error'));
        s.setBroadcast(true);
        s.on('message', (msg, rinfo) => void this.onMessage(msg, rinfo, via, s));
        this.sockets.push(s);
        resolve(s);
      });
    });
  }

  private async onMessage(msg: Buffer, rinfo: RemoteInfo, via: 'dhcp' | 'pxe', socket: Socket): Promise<void> {
    this.counters.received++;
    const decoded = decodePacket(msg);
    const client = decoded.ok ? classify(decoded.packet) : null;
    if (!decoded.ok || client === null) {
      this.counters.malformed++;
      this.logMalformed(rinfo, decoded.ok ? 'not a client request' : decoded.reason);
      return;
    }
    try {
      const out = await this.o.handler.handle({ packet: decoded.packet, client, via, remote: { address: rinfo.address, port: rinfo.port } });
      if (out === null) {
        this.counters.ignored++;
        return;
      }
      const enc = encodePacket(out.packet, { maxSize: replySize(decoded.packet) });
      if (!enc.ok) {
        this.counters.handlerErrors++;
        this.o.log.error({ mac: client.mac, reason: enc.reason }, 'could not encode DHCP reply');
        return;
      }
      // 4011 answers go back through the socket the request came in on, to its source port.
      const from = via === 'pxe' ? socket : (this.sender ?? socket);
      from.send(enc.data, out.port, out.address, (err) => {
        if (err) {
          this.counters.sendErrors++;
          this.o.log.error({ err, to: `${out.address}:${out.port}` }, 'DHCP reply not sent');
        } else {
          this.counters.replied++;
        }
      });
    } catch (err) {
      this.counters.handlerErrors++;
      this.o.log.error({ err, mac: client.mac }, 'DHCP request handling failed');
    }
  }

  // A flood of garbage must not turn into a flood of log lines.
  private logMalformed(rinfo: RemoteInfo, reason: string): void {
    const now = Date.now();
    if (now - this.lastMalformedLog < 1000) return;
    this.lastMalformedLog = now;
    this.o.log.warn({ from: `${rinfo.address}:${rinfo.port}`, reason, malformedTotal: this.counters.malformed }, 'malformed DHCP packet dropped');
  }
}

/** Option 57 counts the IP and UDP headers; without it a client is owed only the 576-byte minimum. */
function replySize(req: DhcpPacket): number {
  const max = u16Opt(req, Opt.MaxMessageSize);
  return Math.min(1500, Math.max(576, max ?? 576)) - 28;
}
