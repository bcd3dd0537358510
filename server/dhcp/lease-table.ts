import type { SubnetConfig } from '../config/schema.js';
import { inNetwork, intToIp, ipToInt, parseCidr, prefixToMask, type Network } from '../net/ipv4.js';
import type { Lease, LeaseRepo } from '../store/types.js';

export interface Subnet {
  cfg: SubnetConfig;
  net: Network;
  mask: string;
  pool: { start: number; end: number } | null;
}

export function compileSubnets(list: SubnetConfig[]): Subnet[] {
  return list.map((cfg) => {
    const net = parseCidr(cfg.cidr);
    return { cfg, net, mask: prefixToMask(net.prefix), pool: cfg.pool ? { start: ipToInt(cfg.pool.start), end: ipToInt(cfg.pool.end) } : null };
  });
}

const OFFER_HOLD_MS = 60_000;
const DECLINE_QUARANTINE_MS = 10 * 60_000;

/**
 * Address bookkeeping for full mode. Bound leases live in memory and are written to the store before
 * the ACK leaves; offers are held in memory only, so a DISCOVER costs no disk write.
 */
export class LeaseTable {
  private readonly byIp = new Map<string, Lease>();
  private readonly byMac = new Map<string, Lease>();
  private readonly cursor = new Map<Subnet, number>();

  constructor(
    private readonly repo: LeaseRepo,
    private readonly now: () => number = Date.now,
  ) {}

  async load(): Promise<number> {
    for (const l of await this.repo.all()) this.index(l);
    return this.byIp.size;
  }

  leaseOf(mac: string): Lease | undefined {
    const l = this.byMac.get(mac);
    return l !== undefined && l.expiresAt > this.now() ? l : undefined;
  }

  /** The address to offer: a reservation wins, then the client's live lease, its requested address, a free pool address. */
  pick(subnet: Subnet, mac: string, reserved: string | null, requested: string | null): string | null {
    if (reserved !== null) return this.freeFor(reserved, mac) ? reserved : null;
    const own = this.byMac.get(mac);
    if (own !== undefined && own.state !== 'declined' && inNetwork(ipToInt(own.ip), subnet.net) && this.inPool(subnet, own.ip)) return own.ip;
    if (requested !== null && this.inPool(subnet, requested) && this.freeFor(requested, mac)) return requested;
    return this.nextFree(subnet, mac);
  }

  /** True when ip may go to mac: unused, expired, or already this client's. */
  freeFor(ip: string, mac: string): boolean {
    const l = this.byIp.get(ip);
    if (l === undefined || l.expiresAt <= this.now()) return true;
    return l.mac === mac && l.state !== 'declined';
  }

  hold(ip: string, mac: string, machineId: string | null): void {
    const cur = this.byIp.get(ip);
    if (cur !== undefined && cur.state === 'bound' && cur.mac === mac && cur.expiresAt > this.now()) return;
    this.index({ ip, mac, clientId: null, machineId, state: 'offered', expiresAt: this.now() + OFFER_HOLD_MS, hostname: null });
  }

  async bind(l: Omit<Lease, 'state' | 'expiresAt'>, seconds: number): Promise<Lease> {
    const lease: Lease = { ...l, state: 'bound', expiresAt: this.now() + seconds * 1000 };
    await this.repo.put(lease);
    this.index(lease);
    return lease;
  }

  async release(ip: string, mac: string): Promise<boolean> {
    const l = this.byIp.get(ip);
    if (l === undefined || l.mac !== mac) return false;
    this.drop(l);
    await this.repo.remove(ip);
    return true;
  }

  /** A client found the address in use (DECLINE): keep it out of the pool for a while. */
  async decline(ip: string, mac: string): Promise<boolean> {
    const l = this.byIp.get(ip);
    if (l === undefined || l.mac !== mac) return false;
    const quarantined: Lease = { ...l, mac: `declined:${mac}`, state: 'declined', expiresAt: this.now() + DECLINE_QUARANTINE_MS };
    this.drop(l);
    this.byIp.set(ip, quarantined);
    await this.repo.put(quarantined);
    return true;
  }

  forget(ip: string, mac: string): void {
    const l = this.byIp.get(ip);
    if (l !== undefined && l.mac === mac && l.state === 'offered') this.drop(l);
  }

  inPool(subnet: Subnet, ip: string): boolean {
    if (subnet.pool === null) return false;
    const n = ipToInt(ip);
    return n >= subnet.pool.start && n <= subnet.pool.end;
  }

  // A rotating cursor makes allocation amortised O(1) instead of a scan from the start per packet.
  private nextFree(subnet: Subnet, mac: string): string | null {
    if (subnet.pool === null) return null;
    const { start, end } = subnet.pool;
    const size = end - start + 1;
    let at = this.cursor.get(subnet) ?? start;
    for (let i = 0; i < size; i++) {
      const ip = intToIp(at);
      at = at >= end ? start : at + 1;
      if (this.freeFor(ip, mac)) {
        this.cursor.set(subnet, at);
        return ip;
      }
    }
    return null;
  }

  private index(l: Lease): void {
    const prev = this.byMac.get(l.mac);
    if (prev !== undefined && prev.ip !== l.ip && prev.state === 'offered') this.byIp.delete(prev.ip);
    const other = this.byIp.get(l.ip);
    if (other !== undefined && other.mac !== l.mac && this.byMac.get(other.mac) === other) this.byMac.delete(other.mac);
    this.byIp.set(l.ip, l);
    if (l.state !== 'declined') this.byMac.set(l.mac, l);
  }

  private drop(l: Lease): void {
    if (this.byIp.get(l.ip) === l) this.byIp.delete(l.ip);
    if (this.byMac.get(l.mac) === l) this.byMac.delete(l.mac);
  }
}
