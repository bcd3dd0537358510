// The Redfish half of redfish-via-maas: the BMC parameters MAAS holds are registered through the same
// flow as an operator's BMC registration (password sealed, TLS trust recorded), then the machine is
// installed by the BMC provisioner over virtual media.

import type { BmcRepo } from '../../store/types.js';
import type { Machine } from '../../inventory/machine.js';
import type { BmcProvisioner } from '../bmc-provisioner.js';
import type { BmcTrust } from '../bmc-record.js';
import { normalizeBmcAddress, registerBmc, type BmcRegistration, type RegistrationDeps } from '../bmc-registration.js';
import type { RedfishInstaller } from './provisioner.js';
import type { RedfishAccess } from './redfish-access.js';

/**
 * MAAS holds no certificate for the BMC, so the first registration trusts it on first use and records
 * the fingerprint; later registrations of the same address keep the trust already recorded (pinned
 * fingerprint or CA bundle), so a changed certificate fails the install instead of being trusted again.
 */
function trustFor(recorded: BmcTrust | undefined): BmcRegistration['tls'] {
  if (recorded === undefined) return { trustOnFirstUse: true };
  return recorded.mode === 'ca' ? { caBundle: recorded.caBundle } : { fingerprintSha256: recorded.fingerprintSha256 };
}

export function redfishViaMaasInstaller(registration: RegistrationDeps, bmcs: BmcRepo, provisioner: BmcProvisioner): RedfishInstaller {
  return {
    async install(m: Machine, access: RedfishAccess, signal: AbortSignal) {
      const address = normalizeBmcAddress(access.endpoint);
      if (address === null) return { ok: false, reason: `MAAS power_address '${access.endpoint}' is not an https Redfish address` };
      const prior = await bmcs.get(m.id);
      const r = await registerBmc(
        {
          address,
          username: access.username,
          password: access.password,
          ...(access.nodeId === null ? {} : { systemId: access.nodeId }),
          tls: trustFor(prior !== null && prior.address === address ? prior.trust : undefined),
        },
        registration,
      );
      if (!r.ok) return { ok: false, reason: `BMC registration from MAAS power parameters: ${r.message}` };
      // The BMC must describe this machine (same UUID or a MAC), not some other inventory entry.
      if (r.machine.id !== m.id) return { ok: false, reason: `the BMC at ${address} describes machine ${r.machine.name}, not ${m.name}; check its power parameters in MAAS` };
      if (signal.aborted) return { ok: false, reason: 'released before the install started' };
      const q = await provisioner.enqueue([r.machine], 'virtual-media', 'maas (redfish-via-maas)');
      const skipped = q.skipped[0];
      if (skipped !== undefined) return { ok: false, reason: skipped.reason };
      return { ok: true };
    },
  };
}
