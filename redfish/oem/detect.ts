// Vendor detection from what every BMC exposes: the service root (Vendor, Product, Oem keys,
// Links.ManagerProvidingService), the Manager (Model, FirmwareVersion, Oem keys) and, last, the
// System's Manufacturer.

import type { Manager } from '../resources/managers.js';
import type { ServiceRoot } from '../resources/service-root.js';
import type { ComputerSystem } from '../resources/systems.js';
import { dellStrategy } from './dell.js';
import { genericStrategy } from './generic.js';
import { hpeStrategy } from './hpe.js';
import { lenovoStrategy } from './lenovo.js';
import { openbmcStrategy } from './openbmc.js';
import { supermicroStrategy } from './supermicro.js';
import type { VendorId, VendorInfo, VendorStrategy } from './types.js';
import { asArray, get, text } from '../json.js';

export const strategies: Record<VendorId, VendorStrategy> = {
  dell: dellStrategy,
  hpe: hpeStrategy,
  lenovo: lenovoStrategy,
  supermicro: supermicroStrategy,
  openbmc: openbmcStrategy,
  generic: genericStrategy,
};

function vendorId(root: ServiceRoot, manager: Manager | undefined, system: ComputerSystem | undefined): VendorId {
  const vendor = (root.vendor ?? '').toLowerCase();
  const product = (root.product ?? '').toLowerCase();
  const oem = root.oemKeys.map((k) => k.toLowerCase());
  const mgrOem = (manager?.oemKeys ?? []).map((k) => k.toLowerCase());
  const fw = manager?.firmwareVersion ?? '';

  if (vendor === 'dell' || oem.includes('dell') || product.includes('dell')) return 'dell';
  if (vendor === 'hpe' || vendor === 'hp' || oem.includes('hpe') || oem.includes('hp') || /^iLO\s*\d/i.test(fw)) return 'hpe';
  if (vendor === 'lenovo' || oem.includes('lenovo')) return 'lenovo';
  if (vendor === 'supermicro' || oem.includes('supermicro')) return 'supermicro';
  if (
    vendor === 'openbmc' ||
    (manager?.model ?? '').toLowerCase() === 'openbmc' ||
    mgrOem.includes('openbmc') ||
    /\/Managers\/bmc\/?$/.test(root.managerProvidingService ?? '')
  ) {
    return 'openbmc';
  }
  const mf = (system?.manufacturer ?? '').toLowerCase();
  if (mf.startsWith('dell')) return 'dell';
  if (mf === 'hpe' || mf === 'hp' || mf.includes('hewlett')) return 'hpe';
  if (mf.startsWith('lenovo')) return 'lenovo';
  if (mf.startsWith('supermicro')) return 'supermicro';
  return 'generic';
}

function product(id: VendorId, root: ServiceRoot, manager: Manager | undefined): { product?: string; generation?: number } {
  const fw = manager?.firmwareVersion ?? '';
  const model = manager?.model ?? '';
  switch (id) {
    case 'hpe': {
      // "iLO 5 v1.15" in the Manager; old roots also carry Oem.Hpe.Manager[0].ManagerType "iLO 5".
      const rootType = text(get(asArray(get(root.raw, 'Oem', 'Hpe', 'Manager'))[0], 'ManagerType'));
      const m = /iLO\s*(\d+)/i.exec(fw) ?? /iLO\s*(\d+)/i.exec(rootType ?? '') ?? /iLO\s*(\d+)/i.exec(model);
      return m === null ? { product: 'iLO' } : { product: `iLO ${m[1]}`, generation: Number(m[1]) };
    }
    case 'dell': {
      // Manager.Model is the server generation ("14G Monolithic", "17G Monolithic"): 17G runs iDRAC10.
      const g = /^(\d+)G\b/.exec(model);
      if (g !== null && Number(g[1]) >= 17) return { product: 'iDRAC10', generation: 10 };
      if (g !== null && Number(g[1]) >= 14) return { product: 'iDRAC9', generation: 9 };
      return { product: 'iDRAC' };
    }
    case 'lenovo':
      return { product: 'XCC' };
    case 'openbmc':
      return { product: 'OpenBMC' };
    case 'supermicro':
      return { product: 'Supermicro BMC' };
    default: {
      const p = root.product ?? model;
      return p === '' ? {} : { product: p };
    }
  }
}

export function detectVendor(root: ServiceRoot, manager?: Manager, system?: ComputerSystem): VendorInfo {
  const id = vendorId(root, manager, system);
  const info: VendorInfo = { id, ...product(id, root, manager) };
  if (manager?.model !== undefined) info.managerModel = manager.model;
  if (manager?.firmwareVersion !== undefined) {
    // iLO writes "iLO 5 v1.15": keep just the version.
    info.firmwareVersion = id === 'hpe' ? manager.firmwareVersion.replace(/^iLO\s*\d+\s*v?/i, '') : manager.firmwareVersion;
  }
  return info;
}
