// Opens a Redfish session to a registered BMC: the password unsealed only here, the recorded TLS trust
// applied, and every HTTP exchange reported as a 'bmc' event on the machine's timeline and in the metrics.

import type { Logger } from 'pino';
import { connectRedfish, type RedfishCall, type RedfishClientOptions, type RedfishLogger, type RedfishMachine, type RedfishTlsOptions } from '../../redfish/index.js';
import type { CallMetrics } from '../metrics/metrics.js';
import type { CredentialCipher } from '../secrets/credential-cipher.js';
import type { NewEvent } from '../store/types.js';
import type { Timeline } from '../timeline/recorder.js';
import type { BmcRecord, BmcTrust } from './bmc-record.js';

export interface BmcClientSettings {
  timeoutMs: number;
  retries: number;
  /** Backoff base between retries (the library default when absent). */
  retryBaseDelayMs?: number;
  /** Poll interval while waiting for a power state. */
  powerPollMs?: number;
}

/** The TLS options for a recorded trust decision; TOFU is pinned to what was seen at registration. */
export function tlsFor(trust: BmcTrust): RedfishTlsOptions {
  if (trust.mode === 'ca') return { caBundle: trust.caBundle };
  return { pinSha256: trust.fingerprintSha256 };
}

export function redfishLogger(log: Logger): RedfishLogger {
  return { debug: (m) => log.debug(m), info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m) => log.error(m) };
}

/** A BMC exchange as a timeline event: method, resource, status, duration, retry. Never a body. */
export function bmcCallEvent(machineId: string, call: RedfishCall): NewEvent {
  const answer = call.status === undefined ? (call.error ?? 'no answer') : `HTTP ${call.status}`;
  const retry = call.retryInMs === undefined ? '' : `; retrying in ${call.retryInMs} ms`;
  const failed = call.status === undefined || call.status >= 400;
  return {
    machineId,
    mac: null,
    source: 'bmc',
    kind: 'bmc.call',
    outcome: failed ? 'error' : 'ok',
    message: `${call.method} ${call.path} → ${answer} (${call.durationMs} ms${call.attempt > 0 ? `, attempt ${call.attempt + 1}` : ''}${retry})`,
    detail: {
      method: call.method,
      resource: call.path,
      ...(call.status === undefined ? {} : { status: call.status }),
      ...(call.error === undefined ? {} : { error: call.error }),
      durationMs: call.durationMs,
      attempt: call.attempt,
      retry: call.retryInMs !== undefined,
    },
  };
}

/** A bounded metric label for a call: the action name, else the top-level collection (`GET Systems`). */
export function callOperation(call: RedfishCall): string {
  const action = /\/Actions\/(?:Oem\/)?([^/]+)/.exec(call.path)?.[1];
  if (action !== undefined) return `${call.method} ${action}`;
  const top = /^\/redfish\/v1\/?([^/?]*)/.exec(call.path)?.[1];
  return `${call.method} ${top === undefined ? 'other' : top === '' ? 'ServiceRoot' : top}`;
}

/** Reports a call to the timeline of a machine and to the metrics. */
export function callReporter(machineId: string, timeline: Timeline, metrics: CallMetrics): (call: RedfishCall) => void {
  return (call) => {
    metrics.externalCall('bmc', callOperation(call), call.status !== undefined && call.status < 400);
    void timeline.record(bmcCallEvent(machineId, call));
  };
}

export function clientOptions(
  target: { address: string; username: string; password: string; systemId?: string },
  tls: RedfishTlsOptions,
  settings: BmcClientSettings,
  onCall: (call: RedfishCall) => void,
  log: Logger,
): RedfishClientOptions {
  return {
    baseUrl: target.address,
    username: target.username,
    password: target.password,
    tls,
    timeoutMs: settings.timeoutMs,
    retries: settings.retries,
    ...(settings.retryBaseDelayMs === undefined ? {} : { retryBaseDelayMs: settings.retryBaseDelayMs }),
    ...(target.systemId === undefined ? {} : { systemId: target.systemId }),
    logger: redfishLogger(log),
    onCall,
  };
}

/** Connects to a registered BMC; its calls go to the machine's timeline as they happen. */
export async function connectBmc(rec: BmcRecord, cipher: CredentialCipher, settings: BmcClientSettings, report: (call: RedfishCall) => void, log: Logger): Promise<RedfishMachine> {
  const password = cipher.open(rec.sealedPassword, rec.machineId);
  const opts = clientOptions({ address: rec.address, username: rec.username, password, systemId: rec.systemId }, tlsFor(rec.trust), settings, report, log);
  return connectRedfish(opts);
}
