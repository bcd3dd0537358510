import type { ResolvedConfig } from '../config/load.js';
import { planBoot } from '../boot/boot-plan.js';
import type { BootUrls } from '../boot/boot-urls.js';
import type { Machine } from '../inventory/machine.js';
import type { Timeline } from '../timeline/recorder.js';
import { addBootInfo, addProxyDiscovery, setServerId, type DiscoveryMode } from './boot-options.js';
import type { DhcpClient } from './classify.js';
import { chooseFirstStage, type FirstStage } from './first-stage.js';
import { destination, type DhcpHandler, type Inbound, type Outbound, type Ports } from './handler.js';
import type { MachineResolver } from './machine-resolver.js';
import { encodeSubOptions, ipOpt, MsgType, Opt, subOptions } from './options.js';
import { emptyReply } from './packet.js';

export interface ProxyDeps {
  cfg: ResolvedConfig;
  resolver: MachineResolver;
  urls: BootUrls;
  timeline: Timeline;
  ports: Ports;
}

/**
 * ProxyDHCP beside a site's own DHCP server: never hands out addresses (yiaddr stays 0), answers only
 * network-boot clients, and runs the PXE boot server on 4011 for firmware that asks there.
 */
export class ProxyHandler implements DhcpHandler {
  constructor(private readonly d: ProxyDeps) {}

  async handle(req: Inbound): Promise<Outbound | null> {
    const { client: c, packet } = req;
    if (!c.netboot) return null;
    if (req.via === 'dhcp') {
      if (c.msgType === MsgType.Request) {
        // A REQUEST naming another server's id is the client taking the site's lease: not ours to answer.
        if (ipOpt(packet, Opt.ServerId) !== this.d.cfg.advertiseIp) return null;
      } else if (c.msgType !== MsgType.Discover) {
        return null;
      }
    } else if (c.msgType !== MsgType.Request && c.msgType !== MsgType.Inform) {
      return null;
    }
    const m = await this.d.resolver.resolve(c);
    if (m === null) return null;
    const plan = planBoot(m, this.d.cfg);
    if (plan.kind === 'ignore') return null;
    const stage = chooseFirstStage(c, m, this.d.urls, this.d.cfg.boot, plan.kind === 'netboot' ? plan.profile : null);
    if (stage.kind === 'unsupported') {
      await this.record(m, c, req.via, 'error', 'dhcp.unanswered', `not answered: ${stage.reason}`, {});
      return null;
    }

    const reply = emptyReply(packet);
    const isBootServer = req.via === 'pxe';
    reply.options.set(Opt.MessageType, Buffer.from([c.msgType === MsgType.Discover ? MsgType.Offer : MsgType.Ack]));
    setServerId(reply, this.d.cfg.advertiseIp);
    addBootInfo(reply, packet, c, stage, this.d.cfg.advertiseIp, 'proxy');
    const mode = this.discoveryMode(c);
    if (isBootServer) {
      reply.ciaddr = packet.ciaddr;
      this.echoBootItem(reply, packet);
    } else if (!c.httpBoot) {
      addProxyDiscovery(reply, mode);
    }
    const to = isBootServer ? { address: packet.ciaddr !== '0.0.0.0' ? packet.ciaddr : req.remote.address, port: req.remote.port } : destination(packet, false, this.d.ports);
    const what = isBootServer ? 'pxe.ack' : c.msgType === MsgType.Discover ? 'dhcp.proxy-offer' : 'dhcp.proxy-ack';
    await this.record(m, c, req.via, 'ok', what, `${describe(stage)}${isBootServer || c.httpBoot ? '' : ` (${mode})`}`, {
      file: stage.kind === 'tftp' ? stage.file : stage.url,
      to: `${to.address}:${to.port}`,
    });
    return { packet: reply, ...to };
  }

  /** 'auto': BIOS and iPXE take the file at once; UEFI PXE goes through the 4011 boot server. */
  private discoveryMode(c: DhcpClient): DiscoveryMode {
    const forced = this.d.cfg.dhcp.proxyStrategy;
    if (forced !== 'auto') return forced;
    if (c.ipxe || c.arch === 0) return 'skip-discovery';
    return 'boot-server';
  }

  /** A 4011 request names the boot item it wants (43.71); the ACK carries it back. */
  private echoBootItem(reply: Inbound['packet'], req: Inbound['packet']): void {
    const v = req.options.get(Opt.VendorSpecific);
    const item = v === undefined ? undefined : subOptions(v)?.get(71);
    if (item !== undefined && item.length === 4) reply.options.set(Opt.VendorSpecific, encodeSubOptions([[71, item]], { end: true }));
  }

  private record(m: Machine, c: DhcpClient, via: Inbound['via'], outcome: 'ok' | 'error', kind: string, message: string, detail: Record<string, unknown>) {
    return this.d.timeline.record({
      machineId: m.id,
      mac: c.mac,
      source: via === 'pxe' ? 'pxe' : 'dhcp',
      kind,
      outcome,
      message,
      detail: { ...detail, arch: c.arch, vendorClass: c.vendorClass, ipxe: c.ipxe, ...(c.relay ? { relay: c.relay } : {}) },
    });
  }
}

export function describe(stage: Exclude<FirstStage, { kind: 'unsupported' }>): string {
  switch (stage.kind) {
    case 'script':
      return 'iPXE pointed at its machine script';
    case 'http':
      return `UEFI HTTP Boot pointed at ${stage.binary}`;
    case 'tftp':
      return `PXE pointed at ${stage.binary} over TFTP`;
  }
}
