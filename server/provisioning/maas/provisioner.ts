// The service's MAAS layer: the HTTP edge and the CLI call in here, and only this layer calls the
// MAAS client. Each deployment runs as its own task with its own timeouts; no lock is held across
// MAAS calls, so one slow or unreachable MAAS machine never holds up another machine.

import type { Logger } from 'pino';
import { whoAmI, type MaasClient } from '../../../maas/index.js';
import type { ProfileUserData } from '../../boot/profile-user-data.js';
import type { ResolvedConfig } from '../../config/load.js';
import type { MaasConfig, MaasMode } from '../../config/schema.js';
import type { Machine } from '../../inventory/machine.js';
import type { Lifecycle } from '../../lifecycle/lifecycle.js';
import type { ArtifactRepo, EventRepo, MachineRepo } from '../../store/types.js';
import type { Timeline } from '../../timeline/recorder.js';
import { connectMaas } from './connection.js';
import { DeployTask } from './deploy-task.js';
import { uploadApplianceImage, type ImageUploadInput, type ImageUploadResult } from './image-upload.js';
import { syncFromMaas, type SyncResult } from './inventory-sync.js';
import { claimInMaas, readRedfishAccess, releaseInMaas, type RedfishAccess } from './redfish-access.js';

/** The Redfish virtual-media install, provided by the Redfish provisioning layer. */
export interface RedfishInstaller {
  install(m: Machine, access: RedfishAccess, signal: AbortSignal): Promise<{ ok: true } | { ok: false; reason: string }>;
}

export interface MaasProvisionerDeps {
  cfg: ResolvedConfig & { maas: MaasConfig };
  machines: MachineRepo;
  events: EventRepo;
  artifacts: ArtifactRepo;
  lifecycle: Lifecycle;
  timeline: Timeline;
  userData: ProfileUserData;
  log: Logger;
  redfish: RedfishInstaller;
  /** Wall clock for OAuth timestamps (tests share the stand-in's). */
  now?: () => number;
}

export type MaasFailureCode = 'RB_NOT_FOUND' | 'RB_LIFECYCLE_CONFLICT' | 'RB_MAAS_MODE' | 'RB_MAAS_NO_IMAGE' | 'RB_MAAS_USER_DATA' | 'RB_MAAS_NO_SYSTEM_ID' | 'RB_MAAS_UPSTREAM';
export type MaasOutcome<T> = { ok: true; value: T } | { ok: false; code: MaasFailureCode; message: string };

const fail = <T>(code: MaasFailureCode, message: string): MaasOutcome<T> => ({ ok: false, code, message });

interface Running {
  abort: AbortController;
  done: Promise<void>;
}

export class MaasProvisioner {
  private readonly tasks = new Map<string, Running>();
  private user: string | null = null;

  private constructor(
    private readonly d: MaasProvisionerDeps,
    private readonly client: MaasClient,
  ) {}

  /** Null with a reason when the key cannot be read or the URL is unusable; the rest of rackboot runs anyway. */
  static async create(d: MaasProvisionerDeps): Promise<{ ok: true; provisioner: MaasProvisioner } | { ok: false; reason: string }> {
    const c = await connectMaas(d.cfg.maas, d.log, d.now !== undefined ? { now: d.now } : {});
    return c.ok ? { ok: true, provisioner: new MaasProvisioner(d, c.client) } : c;
  }

  get maasCfg(): MaasConfig {
    return this.d.cfg.maas;
  }

  /** Who the API key belongs to, asked once (the owner MAAS records on our allocations). */
  private async maasUser(): Promise<string | null> {
    if (this.user !== null) return this.user;
    const r = await whoAmI(this.client);
    if (r.ok) this.user = r.value.username;
    return this.user;
  }

  /** Machines with a deployment being followed. */
  running(): string[] {
    return [...this.tasks.keys()];
  }

  /** Resolves when the machine's task (if any) has ended. */
  async settled(id: string): Promise<void> {
    await this.tasks.get(id)?.done;
  }

  /** The mode a `via: maas` provision uses: the machine's, else the site's, else deploy. */
  private modeFor(m: Machine): MaasMode {
    return m.maas?.mode ?? this.d.cfg.maas.mode ?? 'deploy';
  }

  async provision(id: string, actor: string, opts: { image?: string } = {}): Promise<MaasOutcome<Machine>> {
    const m = await this.d.machines.get(id);
    if (m === null) return fail('RB_NOT_FOUND', `no machine ${id}`);
    const mode = this.modeFor(m);
    if (mode === 'inventory') return fail('RB_MAAS_MODE', `${m.name} is in MAAS inventory mode: rackboot network-boots it itself; provision it without via maas`);
    if (this.tasks.has(id)) return fail('RB_LIFECYCLE_CONFLICT', `a MAAS deployment of ${m.name} is already being followed; release it first`);
    if (mode === 'redfish-via-maas') return this.provisionViaRedfish(m, actor);

    const imageName = opts.image ?? this.d.cfg.maas.image;
    if (imageName === undefined) return fail('RB_MAAS_NO_IMAGE', 'no MAAS image: set maas.image or pass image (upload one with rackboot maas upload-image)');
    const image = await this.d.artifacts.findByName(imageName);
    if (image === null || image.kind !== 'maas-image') return fail('RB_MAAS_NO_IMAGE', `no uploaded MAAS image named '${imageName}'`);
    const profileName = m.profile ?? this.d.cfg.boot.defaultProfile;
    const profile = profileName === undefined || profileName === null ? undefined : this.d.cfg.profiles[profileName];
    if (profileName === undefined || profileName === null || profile === undefined) return fail('RB_MAAS_USER_DATA', `${m.name} has no boot profile (and no boot.defaultProfile) to render its user-data from`);

    // Mark the machine as MAAS-deployed first, so rackboot's own DHCP stops answering its PXE requests.
    if (m.maas?.mode !== 'deploy') await this.d.machines.update(id, { maas: { ...(m.maas ?? {}), mode: 'deploy' } });
    const moved = await this.d.lifecycle.provision(id, actor);
    if (!moved.ok) return fail(moved.code, moved.message);
    // Rendered after the token rotation: the callback URLs inside carry the new token.
    const ud = this.d.userData.render(moved.machine, profileName, profile);
    if (!ud.ok) {
      await this.d.lifecycle.fail(id, `user-data: ${ud.reason}`);
      return fail('RB_MAAS_USER_DATA', ud.reason);
    }
    const plan = {
      distroSeries: image.meta.maasName,
      userData: ud.text,
      // Used only without a system_id: then MAAS picks a machine by pool and tags.
      pool: m.maas?.pool ?? this.d.cfg.maas.allocate.pool,
      tags: this.d.cfg.maas.allocate.tags,
    };
    this.start(moved.machine, (signal) =>
      new DeployTask(
        {
          client: this.client,
          machines: this.d.machines,
          lifecycle: this.d.lifecycle,
          timeline: this.d.timeline,
          log: this.d.log,
          agentName: this.d.cfg.maas.agentName,
          pollMs: this.d.cfg.maas.pollSeconds * 1000,
          deadlineMs: this.d.cfg.maas.deployTimeoutSeconds * 1000,
          maasUser: () => this.maasUser(),
        },
        moved.machine,
        plan,
        signal,
      ).run(),
    );
    return { ok: true, value: moved.machine };
  }

  private async provisionViaRedfish(m: Machine, actor: string): Promise<MaasOutcome<Machine>> {
    const systemId = m.maas?.systemId;
    if (systemId === undefined) return fail('RB_MAAS_NO_SYSTEM_ID', `${m.name} has no MAAS system_id (run a MAAS sync or set maas.systemId)`);
    const redfish = this.d.redfish;
    const moved = await this.d.lifecycle.provision(m.id, actor);
    if (!moved.ok) return fail(moved.code, moved.message);
    // From here a failure on the MAAS side fails the machine with the reason, as a Redfish failure does.
    const failed = async (reason: string): Promise<MaasOutcome<Machine>> => {
      await this.d.lifecycle.fail(m.id, reason);
      return fail('RB_MAAS_UPSTREAM', reason);
    };
    const access = await readRedfishAccess(this.client, systemId);
    if (!access.ok) return failed(`redfish-via-maas: ${access.reason}`);
    const claim = await claimInMaas(this.client, systemId, this.d.cfg.maas.agentName, `rackboot: ${m.name} (Redfish install)`);
    if (!claim.ok) return failed(`redfish-via-maas: ${claim.reason}`);
    await this.record(m.id, 'maas.claimed', 'ok', `${claim.note}; BMC ${access.access.endpoint} from MAAS power parameters`, { systemId, locked: claim.locked, bmc: access.access.endpoint });
    this.start(moved.machine, async (signal) => {
      const r = await redfish.install(moved.machine, access.access, signal);
      if (!r.ok && !signal.aborted) await this.d.lifecycle.fail(m.id, `Redfish install: ${r.reason}`);
    });
    return { ok: true, value: moved.machine };
  }

  private start(m: Machine, run: (signal: AbortSignal) => Promise<void>): void {
    const abort = new AbortController();
    const done = run(abort.signal)
      .catch((err: unknown) => {
        this.d.log.error({ err, machineId: m.id }, 'MAAS task crashed');
        return this.d.lifecycle.fail(m.id, `MAAS task crashed: ${(err as Error).message}`).then(() => undefined);
      })
      .finally(() => {
        if (this.tasks.get(m.id)?.abort === abort) this.tasks.delete(m.id);
      });
    this.tasks.set(m.id, { abort, done });
  }

  /** Teardown: stops following, unlocks and releases the machine in MAAS. */
  async release(id: string, actor: string): Promise<MaasOutcome<{ unlocked: boolean; released: boolean; systemId: string }>> {
    const m = await this.d.machines.get(id);
    if (m === null) return fail('RB_NOT_FOUND', `no machine ${id}`);
    const t = this.tasks.get(id);
    if (t !== undefined) {
      t.abort.abort();
      await t.done;
    }
    const systemId = m.maas?.systemId;
    if (systemId === undefined) return fail('RB_MAAS_NO_SYSTEM_ID', `${m.name} is not linked to a MAAS machine`);
    const r = await releaseInMaas(this.client, systemId, `rackboot: released by ${actor}`);
    if (!r.ok) {
      await this.record(id, 'maas.release-failed', 'error', `MAAS release failed: ${r.reason}`, { systemId });
      return fail('RB_MAAS_UPSTREAM', r.reason);
    }
    await this.record(id, 'maas.released', 'ok', `${r.unlocked ? 'unlocked and ' : ''}${r.released ? 'released' : 'already released'} in MAAS by ${actor}`, { systemId, ...r });
    return { ok: true, value: { systemId, unlocked: r.unlocked, released: r.released } };
  }

  sync(): Promise<SyncResult> {
    return syncFromMaas(this.client, this.d.machines, this.d.events, this.d.timeline, this.d.cfg.maas);
  }

  uploadImage(input: ImageUploadInput): Promise<ImageUploadResult> {
    return uploadApplianceImage(this.client, this.d.artifacts, this.d.cfg.maas, input);
  }

  private record(machineId: string, kind: string, outcome: 'ok' | 'error' | 'info', message: string, detail: Record<string, unknown>): Promise<void> {
    return this.d.timeline.record({ machineId, mac: null, source: 'maas', kind, outcome, message, detail });
  }

  /** Stops following (MAAS keeps deploying; machines are not released on a rackboot restart). */
  async stop(): Promise<void> {
    const all = [...this.tasks.values()];
    for (const t of all) t.abort.abort();
    await Promise.race([Promise.allSettled(all.map((t) => t.done)), new Promise((r) => setTimeout(r, 2000).unref())]);
    this.client.close();
  }
}
