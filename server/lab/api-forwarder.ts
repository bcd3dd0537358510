// Makes rackboot's HTTP port in the lab namespace reachable on the host's loopback without any link
// between the namespaces: the listening socket is opened here, in the host namespace, and handed to a
// small process inside the lab namespace, whose outgoing connections then start in the lab.

import { createServer, type Server } from 'node:net';
import { spawnInNamespace, type LabProcessRecord } from './lab-processes.js';

// Runs inside the namespace (plain JS for `node -e`): accepts on the handed-over socket, connects to
// the target in the namespace, and pipes both ways.
const FORWARDER = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
process.once('message', (msg, server) => {
  if (!server) { console.error('no listening socket received'); process.exit(1); }
  server.on('connection', (client) => {
    const upstream = net.connect({ host, port: Number(port) });
    client.pipe(upstream).pipe(client);
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('error', end);
    upstream.on('error', end);
  });
  console.error('forwarding to ' + host + ':' + port);
  process.send('ready', () => process.disconnect());
});
`;

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', (e) => reject(new Error(`cannot listen on 127.0.0.1:${port}: ${e.message}`)));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(s));
  });
}

export async function startApiForwarder(o: { namespace: string; localPort: number; target: { host: string; port: number }; cwd: string; logFile: string }): Promise<LabProcessRecord> {
  const server = await listen(o.localPort);
  try {
    const { record, child } = spawnInNamespace({
      name: 'api-forwarder',
      namespace: o.namespace,
      command: process.execPath,
      args: ['-e', FORWARDER, o.target.host, String(o.target.port)],
      cwd: o.cwd,
      logFile: o.logFile,
      ipc: true,
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the API forwarder did not start (see ${o.logFile})`)), 15_000);
      child.once('message', () => (clearTimeout(timer), resolve()));
      child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`the API forwarder exited ${code} (see ${o.logFile})`))));
      child.send('listen', server);
    });
    child.removeAllListeners('exit');
    return record;
  } finally {
    // The forwarder holds its own copy of the socket now.
    server.close();
  }
}
