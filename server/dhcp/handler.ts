import type { DhcpClient } from './classify.js';
import type { DhcpPacket } from './packet.js';

export interface Inbound {
  packet: DhcpPacket;
  client: DhcpClient;
  /** 'pxe' is the boot server port (4011). */
  via: 'dhcp' | 'pxe';
  remote: { address: string; port: number };
}

export interface Outbound {
  packet: DhcpPacket;
  address: string;
  port: number;
}

/** One DHCP mode's decisions: a request in, at most one reply out. */
export interface DhcpHandler {
  handle(req: Inbound): Promise<Outbound | null>;
}

export interface Ports {
  server: number;
  client: number;
}

/** RFC 2131 4.1: relay first, NAKs broadcast, renewals unicast, the rest broadcast (no ARP injection from Node). */
export function destination(req: DhcpPacket, isNak: boolean, ports: Ports): { address: string; port: number } {
  if (req.giaddr !== '0.0.0.0') return { address: req.giaddr, port: ports.server };
  if (!isNak && req.ciaddr !== '0.0.0.0') return { address: req.ciaddr, port: ports.client };
  return { address: '255.255.255.255', port: ports.client };
}
