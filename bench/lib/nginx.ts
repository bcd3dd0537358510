// nginx as the HTTP baseline: foreground, everything (config, pid, logs, temp files) under one directory.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchNet } from './netns.js';
import { run, startBackground, waitFor, type BgProcess } from './procs.js';
import { tail } from './rackboot.js';

function nginxConfig(dir: string, root: string, port: number): string {
  return `# Minimal nginx for the rackboot benchmarks: foreground, everything under ${dir}.
daemon off;
worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  default_type application/octet-stream;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`;
}

/** Starts nginx in the server namespace serving `root` on 127.0.0.1:port, and waits until `probePath` answers 200. */
export async function startNginx(net: BenchNet, dir: string, root: string, port: number, probePath: string): Promise<BgProcess> {
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, root, port));
  // -e: the start-up error log too goes to the run directory (never /var/log/nginx).
  const x = net.exec(net.server, 'nginx', ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')]);
  const proc = await startBackground('nginx', x.command, x.args, { logFile: join(dir, 'nginx-stdout.log'), cwd: dir });
  const probe = net.exec(net.server, 'curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-I', `http://127.0.0.1:${port}/${probePath}`]);
  await waitFor(
    'nginx to answer',
    async () => {
      if (!proc.running()) throw new Error(`nginx exited during start-up; see ${join(dir, 'error.log')}:\n${tail(join(dir, 'error.log'))}`);
      return (await run(probe.command, probe.args, { timeoutMs: 5000 })).stdout === '200';
    },
    15_000,
  );
  return proc;
}
