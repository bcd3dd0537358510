import type { ResolvedConfig } from '../config/load.js';
import { planBoot } from '../boot/boot-plan.js';
import type { BootUrls } from '../boot/boot-urls.js';
import type { Machine } from '../inventory/machine.js';
import { inNetwork, intToIp, ipToInt, prefixToMask } from '../net/ipv4.js';
import type { Timeline } from '../timeline/recorder.js';
import { addBootInfo, addIpxeNoProxyWait, setServerId } from './boot-options.js';
import type { DhcpClient } from './classify.js';
import { chooseFirstStage, type FirstStage } from './first-stage.js';
import { destination, type DhcpHandler, type Inbound, type Outbound, type Ports } from './handler.js';
import type { LeaseTable, Subnet } from './lease-table.js';
import type { MachineResolver } from './machine-resolver.js';
import { ipBytes, ipListBytes, ipOpt, MsgType, Opt, stringOpt, u32Bytes } from './options.js';
import { emptyReply, type DhcpPacket } from './packet.js';
import { describe } from './proxy-handler.js';

export interface FullDeps {
  cfg: ResolvedConfig;
  resolver: MachineResolver;
  urls: BootUrls;
  timeline: Timeline;
  leases: LeaseTable;
  subnets: Subnet[];
  ports: Ports;
}

interface Assignment {
  subnet: Subnet;
  machine: Machine | null;
  reserved: string | null;
}

/** The authoritative DHCP server for the provisioning network: reservations from the inventory, an optional pool. */
export class FullHandler implements DhcpHandler {
  private readonly ownSubnet: Subnet | undefined;

  constructor(private readonly d: FullDeps) {
    const own = ipToInt(d.cfg.advertiseIp);
    this.ownSubnet = d.subnets.find((s) => inNetwork(own, s.net));
  }

  async handle(req: Inbound): Promise<Outbound | null> {
    if (req.via !== 'dhcp') return null;
    const { client: c, packet } = req;
    switch (c.msgType) {
      case MsgType.Discover:
        return this.discover(packet, c);
      case MsgType.Request:
        return this.request(packet, c);
      case MsgType.Decline:
        return this.decline(packet, c);
      case MsgType.Release:
        return this.release(packet, c);
      case MsgType.Inform:
        return this.inform(packet, c);
      default:
        return null;
    }
  }

  private async discover(p: DhcpPacket, c: DhcpClient): Promise<Outbound | null> {
    const a = await this.assignment(p, c);
    if (a === null) return null;
    const ip = this.d.leases.pick(a.subnet, c.mac, a.reserved, ipOpt(p, Opt.RequestedIp));
    if (ip === null) {
      await this.record(a.machine, c, 'error', 'dhcp.no-address', a.reserved ? `reserved address ${a.reserved} is leased to another client` : 'no free address in the pool', {});
      return null;
    }
    this.d.leases.hold(ip, c.mac, a.machine?.id ?? null);
    return this.answer(p, c, a, ip, MsgType.Offer);
  }

  private async request(p: DhcpPacket, c: DhcpClient): Promise<Outbound | null> {
    const serverId = ipOpt(p, Opt.ServerId);
    const requested = ipOpt(p, Opt.RequestedIp);
    if (serverId !== null && serverId !== this.d.cfg.advertiseIp) {
      // SELECTING another server's offer: withdraw ours quietly.
      if (requested !== null) this.d.leases.forget(requested, c.mac);
      return null;
    }
    const a = await this.assignment(p, c);
    const wanted = p.ciaddr !== '0.0.0.0' ? p.ciaddr : requested;
    if (a === null) {
      // Not a client we serve; a REQUEST that names us (or renews) still deserves a clear NAK.
      return serverId !== null || p.ciaddr !== '0.0.0.0' ? this.nak(p, c, null, 'client is not served here') : null;
    }
    if (wanted === null) return this.nak(p, c, a.machine, 'REQUEST without a requested address or ciaddr');
    const ok =
      inNetwork(ipToInt(wanted), a.subnet.net) &&
      (a.reserved !== null ? wanted === a.reserved : this.d.leases.inPool(a.subnet, wanted)) &&
      this.d.leases.freeFor(wanted, c.mac);
    if (!ok) return this.nak(p, c, a.machine, `${wanted} is not this client's address`);
    await this.d.leases.bind(
      { ip: wanted, mac: c.mac, clientId: p.options.get(Opt.ClientId)?.toString('hex') ?? null, machineId: a.machine?.id ?? null, hostname: stringOpt(p, Opt.HostName) },
      a.subnet.cfg.leaseSeconds,
    );
    return this.answer(p, c, a, wanted, MsgType.Ack);
  }

  private async decline(p: DhcpPacket, c: DhcpClient): Promise<null> {
    const ip = ipOpt(p, Opt.RequestedIp);
    if (ipOpt(p, Opt.ServerId) === this.d.cfg.advertiseIp && ip !== null && (await this.d.leases.decline(ip, c.mac))) {
      const m = await this.d.resolver.resolve(c);
      await this.record(m, c, 'error', 'dhcp.declined', `client declined ${ip} (address in use on the network); quarantined`, { ip });
    }
    return null;
  }

  private async release(p: DhcpPacket, c: DhcpClient): Promise<null> {
    if (p.ciaddr !== '0.0.0.0' && (await this.d.leases.release(p.ciaddr, c.mac))) {
      const m = await this.d.resolver.resolve(c);
      await this.record(m, c, 'info', 'dhcp.released', `client released ${p.ciaddr}`, { ip: p.ciaddr });
    }
    return null;
  }

  private async inform(p: DhcpPacket, c: DhcpClient): Promise<Outbound | null> {
    if (p.ciaddr === '0.0.0.0') return null;
    const subnet = this.d.subnets.find((s) => inNetwork(ipToInt(p.ciaddr), s.net));
    if (subnet === undefined) return null;
    const reply = emptyReply(p);
    reply.ciaddr = p.ciaddr;
    reply.options.set(Opt.MessageType, Buffer.from([MsgType.Ack]));
    setServerId(reply, this.d.cfg.advertiseIp);
    this.addNetworkOptions(reply, subnet, null);
    return { packet: reply, ...destination(p, false, this.d.ports) };
  }

  /** Which subnet a client is in (by relay address, else ours) and whether it is served at all. */
  private async assignment(p: DhcpPacket, c: DhcpClient): Promise<Assignment | null> {
    const subnet = p.giaddr !== '0.0.0.0' ? this.d.subnets.find((s) => inNetwork(ipToInt(p.giaddr), s.net)) : this.ownSubnet;
    if (subnet === undefined) return null;
    const machine = await this.d.resolver.resolve(c);
    if (machine !== null && planBoot(machine, this.d.cfg).kind === 'ignore' && c.netboot) {
      // Discovered under "record": keep it off the network-boot path, but it may still get a pool lease.
      return subnet.pool === null ? null : { subnet, machine, reserved: null };
    }
    const reserved = machine?.network?.ip ?? null;
    if (reserved !== null && !inNetwork(ipToInt(reserved), subnet.net)) return null;
    if (reserved === null && subnet.pool === null) return null;
    if (machine === null && c.netboot && this.d.cfg.dhcp.unknownMachines === 'ignore') return null;
    return { subnet, machine, reserved };
  }

  private async answer(p: DhcpPacket, c: DhcpClient, a: Assignment, ip: string, type: number): Promise<Outbound> {
    const reply = emptyReply(p);
    reply.yiaddr = ip;
    reply.options.set(Opt.MessageType, Buffer.from([type]));
    setServerId(reply, this.d.cfg.advertiseIp);
    reply.options.set(Opt.LeaseTime, u32Bytes(a.subnet.cfg.leaseSeconds));
    reply.options.set(Opt.RenewalTime, u32Bytes(Math.floor(a.subnet.cfg.leaseSeconds / 2)));
    reply.options.set(Opt.RebindingTime, u32Bytes(Math.floor((a.subnet.cfg.leaseSeconds * 7) / 8)));
    this.addNetworkOptions(reply, a.subnet, a.machine);
    let stage: FirstStage | null = null;
    const plan = a.machine === null ? null : planBoot(a.machine, this.d.cfg);
    if (c.netboot && a.machine !== null && plan !== null && plan.kind !== 'ignore') {
      stage = chooseFirstStage(c, a.machine, this.d.urls, this.d.cfg.boot, plan.kind === 'netboot' ? plan.profile : null);
      if (stage.kind !== 'unsupported') addBootInfo(reply, p, c, stage, this.d.cfg.advertiseIp, 'full');
      if (c.ipxe) addIpxeNoProxyWait(reply);
    }
    const to = destination(p, false, this.d.ports);
    if (a.machine !== null) {
      const boot = stage === null ? '' : stage.kind === 'unsupported' ? `; no boot answer: ${stage.reason}` : `; ${describe(stage)}`;
      await this.record(a.machine, c, stage?.kind === 'unsupported' ? 'error' : 'ok', type === MsgType.Offer ? 'dhcp.offer' : 'dhcp.ack', `${type === MsgType.Offer ? 'offered' : 'acknowledged'} ${ip}${boot}`, {
        ip,
        to: `${to.address}:${to.port}`,
        ...(stage !== null && stage.kind !== 'unsupported' ? { file: stage.kind === 'tftp' ? stage.file : stage.url } : {}),
      });
    }
    return { packet: reply, ...to };
  }

  private addNetworkOptions(reply: DhcpPacket, s: Subnet, m: Machine | null): void {
    const net = m?.network;
    reply.options.set(Opt.SubnetMask, ipBytes(net?.prefix !== undefined && net.ip !== undefined ? prefixToMask(net.prefix) : s.mask));
    const gw = net?.gateway ?? s.cfg.gateway;
    if (gw !== undefined) reply.options.set(Opt.Router, ipBytes(gw));
    const dns = net?.dns ?? s.cfg.dns;
    if (dns.length > 0) reply.options.set(Opt.DomainServer, ipListBytes(dns));
    if (s.cfg.ntp.length > 0) reply.options.set(Opt.NtpServers, ipListBytes(s.cfg.ntp));
    if (s.cfg.domain !== undefined) reply.options.set(Opt.DomainName, Buffer.from(s.cfg.domain));
    const hostname = net?.hostname ?? (m !== null && m.state !== 'discovered' ? m.name : undefined);
    if (hostname !== undefined) reply.options.set(Opt.HostName, Buffer.from(hostname));
    reply.options.set(Opt.Broadcast, ipBytes(intToIp(s.net.broadcast)));
  }

  private async nak(p: DhcpPacket, c: DhcpClient, m: Machine | null, reason: string): Promise<Outbound> {
    const reply = emptyReply(p);
    reply.options.set(Opt.MessageType, Buffer.from([MsgType.Nak]));
    setServerId(reply, this.d.cfg.advertiseIp);
    reply.options.set(Opt.Message, Buffer.from(reason.slice(0, 200)));
    await this.record(m, c, 'error', 'dhcp.nak', `NAK: ${reason}`, {});
    return { packet: reply, ...destination(p, true, this.d.ports) };
  }

  private record(m: Machine | null, c: DhcpClient, outcome: 'ok' | 'error' | 'info', kind: string, message: string, detail: Record<string, unknown>) {
    if (m === null) return Promise.resolve();
    return this.d.timeline.record({ machineId: m.id, mac: c.mac, source: 'dhcp', kind, outcome, message, detail: { ...detail, arch: c.arch, vendorClass: c.vendorClass, ipxe: c.ipxe } });
  }
}
