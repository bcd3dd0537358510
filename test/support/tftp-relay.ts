// User-space lossy UDP relay for TFTP (no netem on the test machines). It mirrors TFTP's port scheme: the
// client talks to the relay's front port, and every server transfer port (TID) gets its own front socket,
// so clients that lock onto the server's TID keep working. Datagrams are dropped with a seeded PRNG.
import dgram from 'node:dgram';
import { Prng } from './prng.js';

export interface LossyRelay {
  port: number;
  stats: { forwarded: number; dropped: number };
  close(): Promise<void>;
}

interface Session {
  clientAddress: string;
  clientPort: number;
  upstream: dgram.Socket;
  upstreamReady: Promise<void>;
  fronts: Map<number, { socket: dgram.Socket; ready: Promise<void> }>;
}

function bound(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => socket.bind({ address: '127.0.0.1', port: 0 }, () => resolve()));
}

export async function startLossyRelay(o: { serverPort: number; lossRate: number; seed: number; serverHost?: string }): Promise<LossyRelay> {
  const serverHost = o.serverHost ?? '127.0.0.1';
  const rng = new Prng(o.seed);
  const stats = { forwarded: 0, dropped: 0 };
  const sockets: dgram.Socket[] = [];
  const sessions = new Map<string, Session>();
  const make = (): dgram.Socket => {
    const s = dgram.createSocket('udp4');
    s.on('error', () => undefined);
    sockets.push(s);
    return s;
  };
  const forward = (via: dgram.Socket, ready: Promise<void>, msg: Buffer, port: number, address: string): void => {
    if (rng.next() < o.lossRate) {
      stats.dropped++;
      return;
    }
    stats.forwarded++;
    void ready.then(() => via.send(msg, port, address, () => undefined));
  };

  const front0 = make();
  await bound(front0);
  const front0Ready = Promise.resolve();

  const session = (rinfo: dgram.RemoteInfo): Session => {
    const key = `${rinfo.address}|${rinfo.port}`;
    let s = sessions.get(key);
    if (s) return s;
    const upstream = make();
    const created: Session = {
      clientAddress: rinfo.address,
      clientPort: rinfo.port,
      upstream,
      upstreamReady: bound(upstream),
      fronts: new Map(),
    };
    s = created;
    upstream.on('message', (msg, from) => {
      if (from.port === o.serverPort) {
        forward(front0, front0Ready, msg, created.clientPort, created.clientAddress);
        return;
      }
      let front = created.fronts.get(from.port);
      if (!front) {
        const socket = make();
        const serverTid = from.port;
        socket.on('message', (m, r) => {
          if (r.address !== created.clientAddress || r.port !== created.clientPort) return;
          forward(upstream, created.upstreamReady, m, serverTid, serverHost);
        });
        front = { socket, ready: bound(socket) };
        created.fronts.set(from.port, front);
      }
      forward(front.socket, front.ready, msg, created.clientPort, created.clientAddress);
    });
    sessions.set(key, created);
    return created;
  };

  front0.on('message', (msg, rinfo) => {
    const s = session(rinfo);
    forward(s.upstream, s.upstreamReady, msg, o.serverPort, serverHost);
  });

  return {
    port: front0.address().port,
    stats,
    close: async () => {
      await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
