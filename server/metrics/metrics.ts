import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DhcpCounters } from '../dhcp/dhcp-server.js';
import { MACHINE_STATES, type MachineState } from '../lifecycle/states.js';
import { CLUSTER_STATES } from '../enrollment/cluster.js';
import type { ClusterRepo, MachineRepo, StoredEvent } from '../store/types.js';
import type { TftpEvent } from '../tftp/server.js';

/** The external systems a provisioning layer calls. */
export type ExternalSystem = 'bmc' | 'maas' | 'local-api';

/** What other layers report; the BMC, MAAS and appliance layers call `externalCall` once per call. */
export interface CallMetrics {
  externalCall(system: ExternalSystem, operation: string, ok: boolean): void;
}

const DHCP_RESULTS: ReadonlyArray<[keyof DhcpCounters, string]> = [
  ['received', 'received'],
  ['malformed', 'malformed'],
  ['ignored', 'ignored'],
  ['replied', 'replied'],
  ['sendErrors', 'send_error'],
  ['handlerErrors', 'handler_error'],
];

/**
 * rackboot's Prometheus metrics, on a registry of its own (one per service, so tests can run several).
 * Counters are fed at the protocol edges; machine and cluster counts are read from the store at scrape time.
 */
export class Metrics implements CallMetrics {
  readonly registry = new Registry();
  private dhcp: DhcpCounters | null = null;
  private readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  private readonly httpBytes: Counter<'area'>;
  private readonly tftpRequests: Counter<'result'>;
  private readonly tftpBytes: Counter;
  private readonly steps: Histogram<'step' | 'outcome'>;
  private readonly callErrors: Counter<'system' | 'operation'>;
  private readonly calls: Counter<'system' | 'operation'>;

  constructor(machines: MachineRepo, clusters: ClusterRepo) {
    const registers = [this.registry];
    const self = this;
    new Counter({
      name: 'rackboot_dhcp_packets_total',
      help: 'DHCP packets by what became of them',
      labelNames: ['result'],
      registers,
      collect() {
        this.reset();
        for (const [key, result] of DHCP_RESULTS) this.inc({ result }, self.dhcp?.[key] ?? 0);
      },
    });
    this.tftpRequests = new Counter({ name: 'rackboot_tftp_requests_total', help: 'TFTP read requests and how their transfers ended', labelNames: ['result'], registers });
    this.tftpBytes = new Counter({ name: 'rackboot_tftp_sent_bytes_total', help: 'file bytes sent over TFTP', registers });
    this.httpRequests = new Counter({ name: 'rackboot_http_requests_total', help: 'HTTP requests by route pattern, method and status', labelNames: ['route', 'method', 'status'], registers });
    this.httpBytes = new Counter({ name: 'rackboot_http_sent_bytes_total', help: 'HTTP response body bytes sent, by area (boot or api)', labelNames: ['area'], registers });
    this.steps = new Histogram({
      name: 'rackboot_provisioning_step_seconds',
      help: 'time machines spent in a lifecycle state before leaving it',
      labelNames: ['step', 'outcome'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200],
      registers,
    });
    new Gauge({
      name: 'rackboot_machines',
      help: 'machines in the inventory, by lifecycle state',
      labelNames: ['state'],
      registers,
      async collect() {
        for (const state of MACHINE_STATES) this.set({ state }, (await machines.list({ state, limit: 1 })).total);
      },
    });
    new Gauge({
      name: 'rackboot_clusters',
      help: 'clusters, by state (forming, enrolled, failed)',
      labelNames: ['state'],
      registers,
      async collect() {
        for (const state of CLUSTER_STATES) this.set({ state }, (await clusters.list({ state, limit: 1 })).total);
      },
    });
    this.calls = new Counter({ name: 'rackboot_external_calls_total', help: 'calls to BMCs, MAAS and appliance APIs', labelNames: ['system', 'operation'], registers });
    this.callErrors = new Counter({ name: 'rackboot_external_call_errors_total', help: 'failed calls to BMCs, MAAS and appliance APIs', labelNames: ['system', 'operation'], registers });
  }

  /** DHCP keeps its own counters; they are read at scrape time. */
  watchDhcp(counters: DhcpCounters): void {
    this.dhcp = counters;
  }

  readonly onTftpEvent = (ev: TftpEvent): void => {
    this.tftpRequests.inc({ result: ev.type });
    if (ev.type === 'complete') this.tftpBytes.inc(ev.bytes);
    else if (ev.type === 'aborted') this.tftpBytes.inc(ev.bytesSent);
  };

  httpResponse(route: string, method: string, status: number, bytes: number): void {
    this.httpRequests.inc({ route, method, status: String(status) });
    if (bytes > 0) this.httpBytes.inc({ area: route.startsWith('/boot/') ? 'boot' : 'api' }, bytes);
  }

  /** Lifecycle moves carry how long the machine spent in the state it left. */
  readonly onTimelineEvent = (e: StoredEvent): void => {
    if (e.kind !== 'lifecycle.transition' && e.kind !== 'lifecycle.failed') return;
    const from = e.detail?.from as MachineState | undefined;
    const ms = e.detail?.inStateMs;
    if (from === undefined || typeof ms !== 'number') return;
    this.steps.observe({ step: from, outcome: e.kind === 'lifecycle.failed' ? 'failed' : 'ok' }, ms / 1000);
  };

  externalCall(system: ExternalSystem, operation: string, ok: boolean): void {
    this.calls.inc({ system, operation });
    if (!ok) this.callErrors.inc({ system, operation });
  }
}
