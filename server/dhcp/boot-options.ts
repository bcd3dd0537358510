import type { DhcpClient } from './classify.js';
import type { FirstStage } from './first-stage.js';
import { encodeSubOptions, ipBytes, Opt } from './options.js';
import type { DhcpPacket } from './packet.js';

export type DiscoveryMode = 'skip-discovery' | 'boot-server';

type Answer = Exclude<FirstStage, { kind: 'unsupported' }>;

const FILE_FIELD_MAX = 127;

/**
 * Writes the boot answer into a reply: BOOTP siaddr/sname/file and options 66/67 both (ROMs differ
 * in which they read) and option 97 echoed. Option 60 is echoed as HTTPClient for HTTP Boot, which
 * requires it, and as PXEClient only in ProxyDHCP answers: EDK2 rejects an address-carrying offer
 * that says PXEClient without PXE vendor options ("PXE-E16: No valid offer received").
 */
export function addBootInfo(reply: DhcpPacket, req: DhcpPacket, c: DhcpClient, stage: Answer, serverIp: string, mode: 'proxy' | 'full'): void {
  const file = stage.kind === 'tftp' ? stage.file : stage.url;
  reply.siaddr = serverIp;
  reply.sname = serverIp;
  // A long per-machine URL may not fit the 128-byte header field; option 67 always carries it.
  reply.file = file.length <= FILE_FIELD_MAX ? file : '';
  if (c.httpBoot) reply.options.set(Opt.VendorClass, Buffer.from('HTTPClient'));
  else if (mode === 'proxy') reply.options.set(Opt.VendorClass, Buffer.from('PXEClient'));
  if (stage.kind === 'tftp') reply.options.set(Opt.TftpServerName, Buffer.from(serverIp));
  reply.options.set(Opt.BootFileName, Buffer.from(file));
  const guid = req.options.get(Opt.ClientGuid);
  if (guid !== undefined) reply.options.set(Opt.ClientGuid, Buffer.from(guid));
}

/**
 * Option 43 for a ProxyDHCP answer. "skip-discovery" (43.6 = 8) tells the client to use the file at
 * once; "boot-server" leaves 43 out so the firmware asks the boot server on port 4011, which many
 * UEFI PXE stacks need because they ignore proxy offers that try to skip discovery.
 */
export function addProxyDiscovery(reply: DhcpPacket, mode: DiscoveryMode): void {
  if (mode === 'skip-discovery') reply.options.set(Opt.VendorSpecific, encodeSubOptions([[6, Buffer.from([8])]], { end: true }));
}

/** iPXE option 175.176 (no-pxedhcp): skip the ~3 s wait for ProxyDHCP offers when we are the only server. */
export function addIpxeNoProxyWait(reply: DhcpPacket): void {
  reply.options.set(Opt.Ipxe, encodeSubOptions([[176, Buffer.from([1])]]));
}

export function setServerId(reply: DhcpPacket, serverIp: string): void {
  reply.options.set(Opt.ServerId, ipBytes(serverIp));
}
