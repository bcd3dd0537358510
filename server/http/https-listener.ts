import { createServer, type Server } from 'node:https';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { ResolvedConfig } from '../config/load.js';
import { localCaMaterial, operatorMaterial, type TlsMaterial } from '../tls/local-ca.js';

/** The names the generated certificate covers: how operators and tools reach this host. */
export function certificateNames(cfg: ResolvedConfig): string[] {
  return [...new Set([cfg.advertiseIp, '127.0.0.1', '::1', 'localhost', hostname(), new URL(cfg.publicUrl).hostname, ...cfg.https.names])];
}

export async function tlsMaterial(cfg: ResolvedConfig): Promise<TlsMaterial> {
  if (cfg.https.certFile !== undefined && cfg.https.keyFile !== undefined) return operatorMaterial(cfg.https.certFile, cfg.https.keyFile);
  return localCaMaterial(cfg.dataDir, certificateNames(cfg));
}

/**
 * A second listener for the same app, over TLS: the API and UI for other hosts. Boot paths answer
 * here too, but firmware uses the plain listener (iPXE and UEFI HTTP Boot do not trust rackboot's CA).
 */
export async function listenHttps(app: FastifyInstance, material: TlsMaterial, host: string, port: number): Promise<Server> {
  await app.ready();
  const server = createServer({ cert: material.cert, key: material.key }, (req, res) => app.routing(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export async function closeHttps(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Event streams never end on their own.
  server.closeAllConnections();
  await closed;
}
