import { uuidFromBytes } from '../inventory/identity.js';
import { clientMac, type DhcpPacket } from './packet.js';
import { archFromVendorClass, clientArchs, clientGuid, isIpxe, messageType, relayAgentInfo, userClasses, vendorClass } from './options.js';

export interface RelayInfo {
  giaddr: string;
  circuitId: string | null;
  remoteId: string | null;
}

/** What a request says about the client, read once per packet. */
export interface DhcpClient {
  mac: string;
  msgType: number;
  /** Option 93, else the Arch digits of option 60 (some firmware omits 93). */
  arch: number | null;
  vendorClass: string | null;
  userClasses: string[];
  /** A firmware or iPXE network-boot client rather than an OS asking for a lease. */
  netboot: boolean;
  httpBoot: boolean;
  ipxe: boolean;
  /** Option 97 GUID as sent (byte order not pinned by PXE; matched in both orders). */
  uuid: string | null;
  relay: RelayInfo | null;
}

const HTTP_ARCHS = new Set([15, 16, 17, 18, 19, 20]);

export function classify(p: DhcpPacket): DhcpClient | null {
  const mac = clientMac(p);
  const msgType = messageType(p);
  if (mac === null || msgType === null || p.op !== 1) return null;
  const vc = vendorClass(p);
  const arch = clientArchs(p)[0] ?? archFromVendorClass(vc);
  const ipxe = isIpxe(p);
  const httpBoot = (vc?.startsWith('HTTPClient') ?? false) || (arch !== null && HTTP_ARCHS.has(arch));
  const guid = clientGuid(p);
  const rai = relayAgentInfo(p);
  return {
    mac,
    msgType,
    arch,
    vendorClass: vc,
    userClasses: userClasses(p),
    netboot: ipxe || httpBoot || (vc?.startsWith('PXEClient') ?? false),
    httpBoot,
    ipxe,
    uuid: guid !== null && !guid.every((b) => b === 0) && !guid.every((b) => b === 0xff) ? uuidFromBytes(guid) : null,
    relay:
      p.giaddr !== '0.0.0.0'
        ? { giaddr: p.giaddr, circuitId: rai?.circuitId?.toString('hex') ?? null, remoteId: rai?.remoteId?.toString('hex') ?? null }
        : null,
  };
}
