// A small HTTP(S) file server for virtual media tests: serves in-memory images with Range support,
// counts requests, and can cut a response short once (to exercise the vbmc's Range resume).

import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface ImageServer {
  url(name: string): string;
  requests: { path: string; range?: string }[];
  /** The next GET of this name sends only this many bytes, then drops the connection. */
  cutNext(name: string, bytes: number): void;
  close(): Promise<void>;
}

export async function startImageServer(files: Record<string, Buffer>, opts: { tls?: { certPem: string; keyPem: string }; host?: string } = {}): Promise<ImageServer> {
  const requests: ImageServer['requests'] = [];
  const cuts = new Map<string, number>();
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const name = decodeURIComponent((req.url ?? '/').split('?')[0]!.slice(1));
    const range = req.headers.range;
    requests.push({ path: name, ...(range === undefined ? {} : { range }) });
    const data = files[name];
    if (data === undefined) {
      res.writeHead(404).end();
      return;
    }
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(range ?? '');
    if (m !== null) start = Number(m[1]);
    if (start >= data.length && m !== null) {
      res.writeHead(416, { 'Content-Range': `bytes */${data.length}` }).end();
      return;
    }
    const headers: Record<string, string> = { 'Content-Length': String(data.length - start), 'Accept-Ranges': 'bytes' };
    if (m !== null) headers['Content-Range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
    res.writeHead(m === null ? 200 : 206, headers);
    const cut = cuts.get(name);
    if (cut !== undefined) {
      cuts.delete(name);
      res.write(data.subarray(start, start + cut), () => res.destroy());
      return;
    }
    res.end(data.subarray(start));
  };
  const server = opts.tls === undefined ? http.createServer(handler) : https.createServer({ cert: opts.tls.certPem, key: opts.tls.keyPem }, handler);
  await new Promise<void>((resolve) => server.listen(0, opts.host ?? '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const base = `${opts.tls === undefined ? 'http' : 'https'}://${opts.host ?? '127.0.0.1'}:${port}`;
  return {
    url: (name) => `${base}/${name}`,
    requests,
    cutNext: (name, bytes) => cuts.set(name, bytes),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
