// A registry that accepts connections and never answers cannot hold a pack push forever: over plain
// HTTP the request timeout ends it, over TLS (pinned, trust on first use) the handshake timeout does,
// and an AbortSignal ends it at once. The silent registry is a loopback listener that reads and says
// nothing; each case checks that rackboot closed its connections.

import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPinnedAgent } from '../../local-api/index.js';
import { pushOciArchive } from '../../server/packs/registry-push.js';
import { makeOciArchive } from '../support/docker-registry.js';

const silent = pino({ level: 'silent' });

describe('pack push to a registry that never answers', () => {
  let dir: string;
  let server: Server;
  let url: string;
  let archive: string;
  const conns: { socket: Socket; closed: boolean }[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-oci-silent-'));
    archive = makeOciArchive(dir, ['1.0.0']).path;
    server = createServer((socket) => {
      const c = { socket, closed: false };
      conns.push(c);
      socket.on('error', () => {});
      socket.once('close', () => (c.closed = true));
      socket.resume();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const c of conns) c.socket.destroy();
    await new Promise((r) => server?.close(r));
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  async function allClosed(): Promise<void> {
    for (let i = 0; i < 200 && !conns.every((c) => c.closed); i++) await new Promise((r) => setTimeout(r, 25));
    expect(conns.every((c) => c.closed)).toBe(true);
  }

  it('over HTTP: the request timeout ends the push as a registry failure', async () => {
    const before = conns.length;
    const r = await pushOciArchive(archive, { registry: `http://${url}`, repository: 'packs', requestTimeoutMs: 300 }, silent);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.kind).toBe('registry');
      expect(r.error).toMatch(/timeout/i);
    }
    expect(conns.length).toBeGreaterThan(before);
    await allClosed();
  });

  it('over TLS with a pinned agent: the handshake timeout ends it', async () => {
    const before = conns.length;
    const agent = createPinnedAgent({ trustOnFirstUse: true, handshakeTimeoutMs: 300 })!;
    const r = await pushOciArchive(archive, { registry: `https://${url}`, repository: 'packs', httpsAgent: agent.agent }, silent);
    agent.agent.destroy();
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/TLS handshake with 127\.0\.0\.1 timed out after 300 ms/);
    expect(agent.pinned()).toBeUndefined();
    expect(conns.length).toBeGreaterThan(before);
    await allClosed();
  });

  it('an AbortSignal ends it at once', async () => {
    const ac = new AbortController();
    const p = pushOciArchive(archive, { registry: `http://${url}`, repository: 'packs', signal: ac.signal }, silent);
    for (let i = 0; i < 200 && conns.every((c) => c.closed); i++) await new Promise((r) => setTimeout(r, 25));
    ac.abort('operator gave up');
    const r = await p;
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toBe('push abandoned: operator gave up');
    await allClosed();
  });
});
