// Kubernetes API stand-in for Nodes: HTTPS with a self-signed serving certificate, bearer-token
// auth, `GET /api/v1/nodes` (NodeList with metadata.resourceVersion) and
// `GET /api/v1/nodes?watch=true&resourceVersion=N` answered as the API server does: 200 with a
// chunked stream of newline-delimited {"type","object"} events newer than N, kept open for later
// changes, BOOKMARKs when allowWatchBookmarks is set, 410 Gone (a Status) for a compacted version.

import { randomBytes } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ServerResponse } from 'node:http';
import forge from 'node-forge';

interface NodeState {
  name: string;
  ip: string;
  ready: boolean;
  uid: string;
  rv: number;
}

interface WatchEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: object;
}

export class KubeStandin {
  private rv = 100;
  private readonly nodes = new Map<string, NodeState>();
  private readonly history: WatchEvent[] = [];
  private readonly watchers = new Set<{ res: ServerResponse; from: number }>();
  private server: https.Server | undefined;
  private readonly token = randomBytes(16).toString('hex');
  private readonly certPem: string;
  private readonly keyPem: string;
  /** Versions at or below this answer 410 Gone, as after an etcd compaction. */
  compactedBelow = 0;
  listCalls = 0;
  watchCalls = 0;

  /** Watch streams still open. */
  openWatches(): number {
    return this.watchers.size;
  }
  port = 0;

  constructor(readonly address = '127.0.0.1') {
    const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = '01';
    cert.validity.notBefore = new Date(Date.now() - 60_000);
    cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
    const subject = [{ name: 'commonName', value: 'kube-apiserver' }];
    cert.setSubject(subject);
    cert.setIssuer(subject);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: address }] },
    ]);
    cert.sign(keys.privateKey, forge.md.sha256.create());
    this.certPem = forge.pki.certificateToPem(cert);
    this.keyPem = forge.pki.privateKeyToPem(keys.privateKey);
  }

  async start(): Promise<void> {
    this.server = https.createServer({ cert: this.certPem, key: this.keyPem }, (req, res) => this.handle(req.method ?? 'GET', req.url ?? '/', req.headers.authorization, res));
    await new Promise<void>((resolve) => this.server!.listen(0, this.address, () => resolve()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    const s = this.server;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** A kubeconfig for this API server: its CA, a bearer token. */
  kubeconfig(clusterName = 'standin'): string {
    const ca = Buffer.from(this.certPem).toString('base64');
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: ${clusterName}`,
      '  cluster:',
      `    server: https://${this.address}:${this.port}`,
      `    certificate-authority-data: ${ca}`,
      'users:',
      '- name: admin',
      '  user:',
      `    token: ${this.token}`,
      'contexts:',
      `- name: admin@${clusterName}`,
      '  context:',
      `    cluster: ${clusterName}`,
      '    user: admin',
      `current-context: admin@${clusterName}`,
      '',
    ].join('\n');
  }

  /** Adds or updates a node; every change is a new resourceVersion and a watch event. */
  setNode(name: string, ip: string, ready: boolean): void {
    const prev = this.nodes.get(name);
    const n: NodeState = { name, ip, ready, uid: prev?.uid ?? randomBytes(8).toString('hex'), rv: ++this.rv };
    this.nodes.set(name, n);
    this.emit({ rv: n.rv, type: prev === undefined ? 'ADDED' : 'MODIFIED', object: this.node(n) });
  }

  deleteNode(name: string): void {
    const n = this.nodes.get(name);
    if (n === undefined) return;
    this.nodes.delete(name);
    n.rv = ++this.rv;
    this.emit({ rv: n.rv, type: 'DELETED', object: this.node(n) });
  }

  private emit(ev: WatchEvent): void {
    this.history.push(ev);
    for (const w of this.watchers) if (ev.rv > w.from) w.res.write(`${JSON.stringify({ type: ev.type, object: ev.object })}\n`);
  }

  private node(n: NodeState): object {
    const now = new Date().toISOString();
    return {
      kind: 'Node',
      apiVersion: 'v1',
      metadata: { name: n.name, uid: n.uid, resourceVersion: String(n.rv), labels: { 'kubernetes.io/hostname': n.name } },
      spec: {},
      status: {
        conditions: [
          { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', lastHeartbeatTime: now, lastTransitionTime: now },
          n.ready
            ? { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now }
            : { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastHeartbeatTime: now, lastTransitionTime: now },
        ],
        addresses: [
          { type: 'InternalIP', address: n.ip },
          { type: 'Hostname', address: n.name },
        ],
        nodeInfo: { kubeletVersion: 'v1.32.4', architecture: 'amd64', operatingSystem: 'linux' },
      },
    };
  }

  private handle(method: string, rawUrl: string, auth: string | undefined, res: ServerResponse): void {
    const url = new URL(rawUrl, 'https://standin');
    const status = (code: number, reason: string, message: string) => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
    };
    if (auth !== `Bearer ${this.token}`) return status(401, 'Unauthorized', 'Unauthorized');
    if (method !== 'GET' || url.pathname !== '/api/v1/nodes') return status(404, 'NotFound', `the server could not find the requested resource`);
    if (url.searchParams.get('watch') !== 'true' && url.searchParams.get('watch') !== '1') {
      this.listCalls++;
      const items = [...this.nodes.values()].map((n) => this.node(n));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items }));
      return;
    }
    this.watchCalls++;
    const fromParam = url.searchParams.get('resourceVersion');
    const from = fromParam === null || fromParam === '' || fromParam === '0' ? this.rv : Number(fromParam);
    if (!Number.isInteger(from)) return status(400, 'BadRequest', `invalid resourceVersion ${fromParam}`);
    if (from < this.compactedBelow) return status(410, 'Expired', `too old resource version: ${from} (${this.compactedBelow})`);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    const w = { res, from };
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
    for (const ev of this.history) if (ev.rv > from) res.write(`${JSON.stringify({ type: ev.type, object: ev.object })}\n`);
    if (url.searchParams.get('allowWatchBookmarks') === 'true') {
      res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Node', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) } } })}\n`);
    }
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? '0');
    if (timeout > 0) setTimeout(() => res.end(), timeout * 1000).unref();
  }
}
