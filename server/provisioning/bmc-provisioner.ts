// BMC-driven provisioning: the PXE path (power off, one-time boot Pxe/UefiHttp, power on) and the
// virtual-media path (the machine's own appliance ISO, and the cidata seed where there is a second
// slot, inserted under an expiring media token; one-time boot Cd; power on), then the clean-up once the install reports `installed` (eject, clear the
// override, leave the machine on). Jobs run under a global and a per-BMC bound. A BMC call that still
// fails after the client's retries fails the machine with the reason and its last events.

import type { Logger } from 'pino';
import { isRedfishError, type BootMode, type RedfishMachine } from '../../redfish/index.js';
import type { BootUrls } from '../boot/boot-urls.js';
import type { ResolvedConfig } from '../config/load.js';
import type { Machine } from '../inventory/machine.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import type { MachineState } from '../lifecycle/states.js';
import type { CredentialCipher } from '../secrets/credential-cipher.js';
import type { ArtifactRepo, BmcRepo, MachineRepo, StoredEvent } from '../store/types.js';
import type { Timeline } from '../timeline/recorder.js';
import type { CallMetrics } from '../metrics/metrics.js';
import { callReporter, connectBmc, type BmcClientSettings } from './bmc-connection.js';
import type { BmcRecord } from './bmc-record.js';
import { ConcurrencyLimiter } from './concurrency-limiter.js';

export const PROVISION_METHODS = ['pxe', 'virtual-media'] as const;
export type ProvisionMethod = (typeof PROVISION_METHODS)[number];

export interface ProvisionerDeps {
  cfg: Pick<ResolvedConfig, 'profiles' | 'boot' | 'bmc'>;
  machines: MachineRepo;
  bmcs: BmcRepo;
  artifacts: ArtifactRepo;
  timeline: Timeline;
  lifecycle: Lifecycle;
  cipher: CredentialCipher;
  urls: BootUrls;
  settings: BmcClientSettings;
  metrics: CallMetrics;
  log: Logger;
}

export interface Skipped {
  id: string;
  name?: string;
  reason: string;
}

export interface EnqueueResult {
  accepted: { id: string; name: string; bmc: string }[];
  skipped: Skipped[];
}

// An install under way is not interrupted by a second request.
const BUSY: ReadonlySet<MachineState> = new Set(['booting-installer', 'installing']);

class StepError extends Error {
  constructor(
    readonly step: string,
    readonly inner: unknown,
  ) {
    super(`${step}: ${inner instanceof Error ? inner.message : String(inner)}`);
  }
}

export class BmcProvisioner {
  private readonly limiter: ConcurrencyLimiter;
  /** Machines with a queued or running BMC job, so a second request is refused, not doubled. */
  private readonly pending = new Set<string>();
  private readonly jobs = new Set<Promise<void>>();
  private readonly onEvent = (ev: StoredEvent) => {
    if (ev.machineId !== null && ev.kind === 'lifecycle.transition' && ev.detail?.['to'] === 'installed') void this.afterInstalled(ev.machineId);
  };

  constructor(private readonly deps: ProvisionerDeps) {
    this.limiter = new ConcurrencyLimiter(deps.cfg.bmc.maxConcurrent, deps.cfg.bmc.maxPerBmc);
  }

  /** Reacts to machines reaching `installed`. */
  start(): void {
    this.deps.timeline.on('event', this.onEvent);
  }

  /** Stops reacting and waits for the jobs under way. */
  async stop(): Promise<void> {
    this.deps.timeline.off('event', this.onEvent);
    await this.idle();
  }

  /** Resolves once no job is queued or running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.jobs.size > 0) await Promise.allSettled([...this.jobs]);
  }

  /**
   * Queues the machines for provisioning through their BMCs. Machines that cannot be provisioned this
   * way are skipped with the reason; the rest are accepted and run under the concurrency bounds.
   */
  async enqueue(machines: Machine[], method: ProvisionMethod, actor: string): Promise<EnqueueResult> {
    const out: EnqueueResult = { accepted: [], skipped: [] };
    for (const m of machines) {
      const rec = await this.deps.bmcs.get(m.id);
      const reason = await this.refusal(m, rec, method);
      if (reason !== null || rec === null) {
        out.skipped.push({ id: m.id, name: m.name, reason: reason ?? 'no BMC registered' });
        continue;
      }
      this.pending.add(m.id);
      out.accepted.push({ id: m.id, name: m.name, bmc: rec.address });
      await this.deps.timeline.record({ machineId: m.id, mac: null, source: 'bmc', kind: 'bmc.queued', outcome: 'info', message: `queued for ${method} provisioning through BMC ${rec.address} by ${actor}`, detail: { method, bmc: rec.address, actor } });
      this.track(this.limiter.run(rec.address, () => this.provision(m.id, method, actor)).finally(() => this.pending.delete(m.id)));
    }
    return out;
  }

  private async refusal(m: Machine, rec: BmcRecord | null, method: ProvisionMethod): Promise<string | null> {
    if (rec === null) return 'no BMC registered for this machine';
    if (this.pending.has(m.id)) return 'a BMC job for this machine is already queued or running';
    if (BUSY.has(m.state)) return `an install is already under way (${m.state})`;
    if (method === 'virtual-media') {
      const r = await this.appliance(m);
      if (!r.ok) return r.reason;
    }
    return null;
  }

  private async appliance(m: Machine): Promise<{ ok: true; name: string } | { ok: false; reason: string }> {
    const profileName = m.profile ?? this.deps.cfg.boot.defaultProfile;
    const profile = profileName === undefined || profileName === null ? undefined : this.deps.cfg.profiles[profileName];
    if (profile === undefined) return { ok: false, reason: 'virtual media needs a boot profile (machine profile or boot.defaultProfile)' };
    if (profile.appliance === undefined) return { ok: false, reason: `profile '${profileName}' has no appliance ISO to hand to the BMC` };
    if ((await this.deps.artifacts.findByName(profile.appliance)) === null) return { ok: false, reason: `appliance '${profile.appliance}' is not ingested (rackboot artifacts add)` };
    return { ok: true, name: profile.appliance };
  }

  private track(p: Promise<unknown>): void {
    const job = p.then(
      () => undefined,
      (err: unknown) => this.deps.log.error({ err }, 'BMC job failed unexpectedly'),
    );
    this.jobs.add(job);
    void job.finally(() => this.jobs.delete(job));
  }

  private async provision(id: string, method: ProvisionMethod, actor: string): Promise<void> {
    const moved = await this.deps.lifecycle.provision(id, `${actor} via BMC (${method})`);
    if (!moved.ok) {
      await this.note(id, 'bmc.provision.refused', 'error', `BMC provisioning not started: ${moved.message}`, { method });
      return;
    }
    const m = moved.machine;
    const rec = await this.deps.bmcs.get(id);
    if (rec === null) {
      await this.deps.lifecycle.fail(id, 'BMC provisioning: the BMC registration was removed');
      return;
    }
    let bmc: RedfishMachine | undefined;
    try {
      bmc = await step('connect to the BMC', () => connectBmc(rec, this.deps.cipher, this.deps.settings, callReporter(rec.machineId, this.deps.timeline, this.deps.metrics), this.deps.log));
      const mode = bootMode(m, rec);
      await step('power off', () => bmc!.powerOff({ force: true }));
      await step('wait for power off', () => bmc!.waitForPowerState('Off', { timeoutMs: 120_000, intervalMs: this.deps.settings.powerPollMs ?? 2000 }));
      await this.note(id, 'bmc.powered-off', 'ok', 'powered off for provisioning');
      if (method === 'pxe') {
        const target = this.deps.cfg.bmc.pxeTarget;
        const r = await step(`one-time boot ${target}`, () => bmc!.setOneTimeBoot(target, mode));
        await this.note(id, 'bmc.boot-override', 'ok', `one-time boot ${r.target}${r.mode === undefined ? '' : ` (${r.mode})`} set and read back`, { target: r.target, mode: r.mode ?? null });
      } else {
        const appliance = await this.appliance(m);
        if (!appliance.ok) throw new StepError('virtual media', new Error(appliance.reason));
        const media = this.deps.urls.virtualMedia(m, appliance.name, this.deps.cfg.bmc.mediaTokenSeconds);
        const iso = await step('insert the appliance ISO', () => bmc!.insertMedia(media.iso, { slot: 'cd' }));
        // machine.iso already carries the user-data and config_url; the NoCloud seed is a second source
        // where the BMC has a second slot, and its absence is not a failure.
        const seed = await step('insert the cidata ISO', () =>
          bmc!.insertMedia(media.cidata, { slot: 'second' }).catch((err: unknown) => {
            if (isRedfishError(err, 'RB_REDFISH_UNSUPPORTED')) return null;
            throw err;
          }),
        );
        // URLs carry a token: the timeline names the slots and the files, never the URL.
        const seedText = seed === null ? 'no second CD slot for the cidata seed (machine.iso carries the config)' : `cidata in slot ${seed.slot.id} (${seed.method})`;
        await this.note(id, 'bmc.media-inserted', 'ok', `machine ISO of ${appliance.name} in slot ${iso.slot.id} (${iso.method}), ${seedText}; media URLs expire in ${this.deps.cfg.bmc.mediaTokenSeconds} s`, {
          appliance: appliance.name,
          slots: seed === null ? [iso.slot.id] : [iso.slot.id, seed.slot.id],
        });
        const r = await step('one-time boot Cd', () => bmc!.setOneTimeBoot('Cd', mode));
        await this.note(id, 'bmc.boot-override', 'ok', `one-time boot ${r.target}${r.mode === undefined ? '' : ` (${r.mode})`} set and read back`, { target: r.target, mode: r.mode ?? null });
      }
      await step('power on', () => bmc!.powerOn());
      await this.note(id, 'bmc.powered-on', 'ok', `powered on to boot the installer over ${method === 'pxe' ? 'the network' : 'virtual media'}`, { method });
      if (method === 'virtual-media') {
        // No iPXE script marks this boot; the BMC path itself moves the machine on.
        await this.deps.lifecycle.move(id, 'booting-installer', 'installer ISO inserted as virtual media and the machine powered on');
      }
    } catch (err) {
      const reason = err instanceof StepError ? `BMC ${rec.address}: ${err.message}` : `BMC ${rec.address}: ${err instanceof Error ? err.message : String(err)}`;
      this.deps.log.warn({ machine: id, bmc: rec.address, code: codeOf(err) }, 'BMC provisioning failed');
      await this.deps.lifecycle.fail(id, reason);
    } finally {
      await bmc?.close();
    }
  }

  /** After `installed`: eject the media, clear the one-time override, make sure the machine stays on. */
  private async afterInstalled(id: string): Promise<void> {
    const rec = await this.deps.bmcs.get(id);
    if (rec === null) return;
    const job = this.limiter.run(rec.address, async () => {
      let bmc: RedfishMachine | undefined;
      try {
        bmc = await step('connect to the BMC', () => connectBmc(rec, this.deps.cipher, this.deps.settings, callReporter(rec.machineId, this.deps.timeline, this.deps.metrics), this.deps.log));
        const ejected = await step('eject virtual media', () => bmc!.ejectMedia());
        const cleared = await step('clear the boot override', () => bmc!.clearBootOverride());
        const power = await step('keep the machine on', () => bmc!.powerOn());
        await this.note(id, 'bmc.cleanup', 'ok', `installed: ${ejected.filter((e) => e.method !== 'already-empty').length} media slot(s) ejected, boot override ${cleared.enabled}, ${power.changed ? 'powered on again' : 'left on'}`, {
          ejected: ejected.map((e) => e.slot.id),
        });
      } catch (err) {
        await this.deps.lifecycle.fail(id, `BMC ${rec.address} after install: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        await bmc?.close();
      }
    });
    this.track(job);
  }

  private async note(id: string, kind: string, outcome: 'ok' | 'error' | 'info', message: string, detail: Record<string, unknown> = {}): Promise<void> {
    await this.deps.timeline.record({ machineId: id, mac: null, source: 'bmc', kind, outcome, message, detail });
  }
}

async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new StepError(name, err);
  }
}

function codeOf(err: unknown): string | undefined {
  const inner = err instanceof StepError ? err.inner : err;
  const code = (inner as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The machine's firmware when the operator set it, else what the BMC reported at registration. */
function bootMode(m: Machine, rec: BmcRecord): BootMode | undefined {
  if (m.firmware === 'uefi') return 'UEFI';
  if (m.firmware === 'bios') return 'Legacy';
  const b = rec.hardware.bootMode?.toLowerCase();
  return b === 'uefi' ? 'UEFI' : b === 'legacy' ? 'Legacy' : undefined;
}
