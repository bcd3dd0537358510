import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { bundledBootAssets } from './boot/assets-path.js';
import { BootUrls } from './boot/boot-urls.js';
import { resolveIpxeDir } from './boot/ipxe-binaries.js';
import { loadOrCreateSecret, MachineTokens } from './boot/machine-tokens.js';
import { ProfileUserData } from './boot/profile-user-data.js';
import { loadIpxeTemplates } from './boot/template.js';
import type { ResolvedConfig } from './config/load.js';
import { DhcpServer } from './dhcp/dhcp-server.js';
import { FullHandler } from './dhcp/full-handler.js';
import type { DhcpHandler } from './dhcp/handler.js';
import { compileSubnets, LeaseTable } from './dhcp/lease-table.js';
import { MachineResolver } from './dhcp/machine-resolver.js';
import { ProxyHandler } from './dhcp/proxy-handler.js';
import { BlobStore } from './artifacts/blob-store.js';
import { ensureBootstrapToken } from './access/api-tokens.js';
import { ClusterFeed } from './enrollment/cluster-feed.js';
import { ClusterFormation } from './enrollment/formation.js';
import { hostClientFactory } from './enrollment/host-clients.js';
import { loadOrCreateSealKey } from './enrollment/kubeconfig-seal.js';
import { buildHttpApp } from './http/app.js';
import { FileHandleCache } from './http/file-handle-cache.js';
import { certificateNames, closeHttps, listenHttps, tlsMaterial } from './http/https-listener.js';
import type { TlsMaterial } from './tls/local-ca.js';
import type { Server as HttpsServer } from 'node:https';
import { Lifecycle } from './lifecycle/lifecycle.js';
import { Metrics } from './metrics/metrics.js';
import { openSqliteStore } from './store/sqlite/sqlite-store.js';
import type { Store } from './store/types.js';
import { BootFileSource } from './tftp/boot-file-source.js';
import { directorySource } from './tftp/directory-source.js';
import { TftpServer } from './tftp/server.js';
import { startTimelineRetention } from './timeline/retention.js';
import { Timeline } from './timeline/recorder.js';
import { ProgressBoard, timedStages } from './progress/progress-board.js';
import type { MachineState } from './lifecycle/states.js';
import { BmcProvisioner } from './provisioning/bmc-provisioner.js';
import { loadOrCreateCredentialKey } from './secrets/credential-cipher.js';
import { MaasProvisioner } from './provisioning/maas/provisioner.js';
import { redfishViaMaasInstaller } from './provisioning/maas/redfish-installer.js';

export interface RunningService {
  store: Store;
  timeline: Timeline;
  /** Prometheus metrics; provisioning layers report BMC, MAAS and appliance calls through it. */
  metrics: Metrics;
  provisioner: BmcProvisioner;
  /** Machine state changes and the stage watchdog (`checkTimeouts`). */
  lifecycle: Lifecycle;
  /** Cluster formation; set once the enrollment layer is wired. */
  formation: ClusterFormation | null;
  http: FastifyInstance | null;
  /** The TLS listener serving the same app (API and UI for other hosts). */
  https: HttpsServer | null;
  tftp: TftpServer | null;
  dhcp: DhcpServer | null;
  /** The MAAS layer, when rackboot.yaml has a usable maas section. */
  maas: MaasProvisioner | null;
  /** What could not start, with the fix; empty when everything runs. */
  problems: string[];
  stop(): Promise<void>;
}

/** Starts HTTP, TFTP and DHCP in one process. A listener that cannot bind is reported and skipped; the rest keep serving. */
export interface ServiceOptions {
  /** Wall clock for MAAS OAuth timestamps (tests share their MAAS stand-in's clock). */
  now?: () => number;
}

export async function startService(cfg: ResolvedConfig, log: Logger, opts: ServiceOptions = {}): Promise<RunningService> {
  await mkdir(cfg.dataDir, { recursive: true });
  await mkdir(cfg.artifactsRoot, { recursive: true });
  const ipxeDir = await resolveIpxeDir(cfg.boot.ipxeDir);
  const store = openSqliteStore(join(cfg.dataDir, 'rackboot.db'));
  const tokens = new MachineTokens(await loadOrCreateSecret(cfg.dataDir));
  await ensureBootstrapToken(store.apiTokens, store.audit, cfg.dataDir, log);
  const urls = new BootUrls(cfg.publicUrl, tokens);
  const timeline = new Timeline(store.events, log.child({ component: 'timeline' }));
  const templates = await loadIpxeTemplates(cfg.boot.templatesDir ?? join(bundledBootAssets(), 'templates'));
  const problems: string[] = [];
  const metrics = new Metrics(store.machines, store.clusters);
  timeline.on('event', metrics.onTimelineEvent);
  const progress = new ProgressBoard({ stageTimeouts: timedStages(cfg.lifecycle) });
  timeline.on('event', progress.onTimelineEvent);
  for (const m of await store.machines.inStates(Object.keys(timedStages(cfg.lifecycle)) as MachineState[])) progress.stage(m.id, m.state, m.stateEnteredAt);
  const cipher = await loadOrCreateCredentialKey(cfg.bmcKeyFile);

  const templatesDir = cfg.boot.templatesDir ?? join(bundledBootAssets(), 'templates');
  const userData = await ProfileUserData.load(cfg.profiles, templatesDir, urls);
  const lifecycle = new Lifecycle(store.machines, store.events, timeline, cfg.lifecycle, log.child({ component: 'lifecycle' }));
  lifecycle.startWatchdog(cfg.lifecycle.watchdogSeconds * 1000);
  const stopRetention = startTimelineRetention(store.events, cfg.retention.eventsDays, log.child({ component: 'retention' }));
  const bmcLog = log.child({ component: 'bmc' });
  const bmcSettings = { timeoutMs: cfg.bmc.timeoutSeconds * 1000, retries: cfg.bmc.retries };
  const provisioner = new BmcProvisioner({ cfg, machines: store.machines, bmcs: store.bmcs, artifacts: store.artifacts, timeline, lifecycle, cipher, urls, settings: bmcSettings, metrics, log: bmcLog });
  provisioner.start();
  const svc: RunningService = { store, timeline, metrics, provisioner, lifecycle, formation: null, http: null, https: null, tftp: null, dhcp: null, maas: null, problems, stop };
  const blobHandles = new FileHandleCache();
  const blobs = new BlobStore(cfg.artifactsRoot);
  const bmc = {
    machines: store.machines,
    bmcs: store.bmcs,
    provisioner,
    registration: { machines: store.machines, bmcs: store.bmcs, events: store.events, timeline, cipher, settings: bmcSettings, metrics, log: bmcLog },
  };
  const enrollmentLog = log.child({ component: 'enrollment' });
  let localApiPassword = '';
  if (cfg.enrollment.passwordFile !== undefined) {
    try {
      localApiPassword = (await readFile(cfg.enrollment.passwordFile, 'utf8')).trim();
    } catch (err) {
      problems.push(`enrollment.passwordFile: ${(err as Error).message}; cluster formation cannot log in to hosts`);
    }
  }
  const clusters = new ClusterFeed(store.clusters);
  const formation = new ClusterFormation({
    clusters,
    machines: store.machines,
    lifecycle,
    timeline,
    client: hostClientFactory(clusters, () => ({ port: cfg.enrollment.localApiPort, username: cfg.enrollment.username, password: localApiPassword }), enrollmentLog),
    sealKey: await loadOrCreateSealKey(cfg.enrollment.kubeconfigKeyFile ?? join(cfg.dataDir, 'kubeconfig.key')),
    timeouts: cfg.lifecycle,
    pollMs: cfg.enrollment.pollMs,
    progress,
    log: enrollmentLog,
  });
  svc.formation = formation;
  const enrollment = { clusters, machines: store.machines, formation, timeline, log: enrollmentLog };
  if (cfg.maas !== undefined) {
    const maasCfg = { ...cfg, maas: cfg.maas };
    const redfish = redfishViaMaasInstaller(bmc.registration, store.bmcs, provisioner);
    const created = await MaasProvisioner.create({ cfg: maasCfg, machines: store.machines, events: store.events, artifacts: store.artifacts, lifecycle, timeline, userData, log, redfish, ...opts });
    if (created.ok) svc.maas = created.provisioner;
    else problems.push(`${created.reason}. MAAS operations are off; everything else keeps running.`);
  }
  const app = await buildHttpApp({ cfg, apiTokens: store.apiTokens, audit: store.audit, metrics, machines: store.machines, events: store.events, timeline, tokens, urls, templates, ipxeDir, log, lifecycle, userData, artifacts: store.artifacts, blobs, blobHandles, bmc, clusters, clusterFeed: clusters, enrollment, maas: svc.maas, progress });
  try {
    await app.listen({ host: cfg.http.listen, port: cfg.http.port });
    svc.http = app;
    const bound = app.server.address();
    log.info({ address: `${cfg.http.listen}:${typeof bound === 'object' && bound !== null ? bound.port : cfg.http.port}`, publicUrl: cfg.publicUrl }, 'HTTP listening');
  } catch (e) {
    problems.push(bindProblem('TCP', cfg.http.listen, cfg.http.port, 'HTTP', 'http.port', e));
    await app.close();
  }

  if (svc.http !== null && cfg.https.enabled) {
    let material: TlsMaterial | null = null;
    try {
      material = await tlsMaterial(cfg);
      if (material.issued !== null) log.info({ reason: material.issued, names: certificateNames(cfg) }, 'issued a new HTTPS server certificate from the rackboot CA');
    } catch (e) {
      problems.push(`HTTPS not started: cannot load the certificate: ${(e as Error).message}. Fix https.certFile/https.keyFile. Everything else keeps running.`);
    }
    if (material !== null) {
      try {
        svc.https = await listenHttps(app, material, cfg.https.listen, cfg.https.port);
        const bound = svc.https.address();
        log.info({ address: `${cfg.https.listen}:${typeof bound === 'object' && bound !== null ? bound.port : cfg.https.port}`, ca: material.caFile ?? '(operator certificate)' }, 'HTTPS listening');
      } catch (e) {
        problems.push(bindProblem('TCP', cfg.https.listen, cfg.https.port, 'HTTPS', 'https.port', e));
      }
    }
  }

  if (cfg.tftp.enabled) {
    const source = new BootFileSource(directorySource(ipxeDir), store.machines, timeline);
    const tftp = new TftpServer({
      ...cfg.tftp,
      host: cfg.tftp.listen,
      open: source.open,
      onEvent: (ev) => {
        source.onEvent(ev);
        metrics.onTftpEvent(ev);
      },
    });
    try {
      await tftp.start();
      svc.tftp = tftp;
      log.info({ address: `${cfg.tftp.listen}:${tftp.address().port}`, root: ipxeDir }, 'TFTP listening');
    } catch (e) {
      problems.push(bindProblem('UDP', cfg.tftp.listen, cfg.tftp.port, 'TFTP', 'tftp.port', e));
    }
  }

  if (cfg.dhcp.mode !== 'off') {
    const resolver = new MachineResolver(store.machines, timeline, cfg.dhcp.unknownMachines, cfg.dhcp.maxDiscovered, log.child({ component: 'dhcp' }));
    const ports = { server: cfg.dhcp.port, client: cfg.dhcp.clientPort };
    let handler: DhcpHandler;
    if (cfg.dhcp.mode === 'full') {
      const leases = new LeaseTable(store.leases);
      const loaded = await leases.load();
      log.info({ leases: loaded }, 'DHCP leases loaded');
      handler = new FullHandler({ cfg, resolver, urls, timeline, leases, subnets: compileSubnets(cfg.dhcp.subnets), ports });
    } else {
      handler = new ProxyHandler({ cfg, resolver, urls, timeline, ports });
    }
    const dhcp = new DhcpServer({
      listen: cfg.dhcp.listen,
      port: cfg.dhcp.port,
      pxePort: cfg.dhcp.mode === 'proxy' ? cfg.dhcp.pxePort : null,
      serverIp: cfg.advertiseIp,
      handler,
      log: log.child({ component: 'dhcp' }),
    });
    try {
      await dhcp.start();
      svc.dhcp = dhcp;
      metrics.watchDhcp(dhcp.counters);
      log.info({ mode: cfg.dhcp.mode, port: cfg.dhcp.port, serverIp: cfg.advertiseIp }, 'DHCP listening');
    } catch (e) {
      problems.push(bindProblem('UDP', cfg.dhcp.listen, cfg.dhcp.port, `DHCP (${cfg.dhcp.mode} mode, with boot server on ${cfg.dhcp.pxePort})`, 'dhcp.port', e));
    }
  }
  for (const p of problems) log.error(p);
  await formation.resume();

  async function stop(): Promise<void> {
    lifecycle.stopWatchdog();
    await stopRetention();
    await provisioner.stop();
    await formation.stop();
    await svc.maas?.stop();
    await svc.dhcp?.stop();
    await svc.tftp?.stop();
    if (svc.https !== null) await closeHttps(svc.https);
    await svc.http?.close();
    progress.close();
    await blobHandles.close();
    await store.close();
  }
  return svc;
}

function bindProblem(proto: string, host: string, port: number, what: string, key: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const where = `${proto} ${host}:${port} (${what})`;
  if (code === 'EACCES') {
    return `cannot bind ${where}: permission denied. Ports below 1024 need root or CAP_NET_BIND_SERVICE: run as root, or "setcap cap_net_bind_service=+ep $(readlink -f $(command -v node))", or set ${key} to a port above 1023. Everything else keeps running.`;
  }
  if (code === 'EADDRINUSE') return `cannot bind ${where}: the port is in use by another process (another DHCP/TFTP/HTTP server?). Stop it or set ${key}. Everything else keeps running.`;
  if (code === 'EADDRNOTAVAIL') return `cannot bind ${where}: ${host} is not an address of this host; fix the listen address. Everything else keeps running.`;
  return `cannot bind ${where}: ${(e as Error).message}. Everything else keeps running.`;
}
