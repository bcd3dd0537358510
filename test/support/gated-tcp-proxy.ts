// A TCP relay that stops passing client bytes upstream once a set number has gone through, and
// holds them until released: a test can freeze an upload part-way (TLS passes through untouched) and
// act while it is provably still in flight, instead of racing it.

import { connect, createServer, type Server, type Socket } from 'node:net';

export interface GatedProxy {
  /** Client bytes passed upstream so far, over every connection. */
  forwarded(): number;
  /** True once the limit is reached and client bytes are being held back. */
  holding(): boolean;
  /** Passes everything from now on, held bytes first. */
  release(): void;
  close(): Promise<void>;
}

export async function startGatedProxy(listen: { host: string; port: number }, upstream: { host: string; port: number }, holdAfterBytes: number): Promise<GatedProxy> {
  let passed = 0;
  let limit = holdAfterBytes;
  const waiting = new Set<() => void>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const up = connect(upstream.port, upstream.host);
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => {
        sockets.delete(s);
        client.destroy();
        up.destroy();
      });
    }
    up.pipe(client);
    client.on('data', (chunk: Buffer) => {
      const room = Math.max(0, limit - passed);
      if (chunk.length <= room) {
        passed += chunk.length;
        up.write(chunk);
        return;
      }
      if (room > 0) up.write(chunk.subarray(0, room));
      passed += room;
      const rest = chunk.subarray(room);
      client.pause();
      const go = () => {
        passed += rest.length;
        up.write(rest);
        client.resume();
      };
      waiting.add(go);
      client.once('close', () => waiting.delete(go));
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(listen.port, listen.host, () => ok());
  });
  return {
    forwarded: () => passed,
    holding: () => waiting.size > 0,
    release() {
      limit = Number.POSITIVE_INFINITY;
      for (const go of waiting) go();
      waiting.clear();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
