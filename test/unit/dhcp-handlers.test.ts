import { afterEach, describe, expect, it } from 'vitest';
import { swapUuidByteOrder, uuidFromBytes } from '../../server/inventory/identity.js';
import { ipOpt, MsgType, Opt, stringOpt, subOptions, u32Opt } from '../../server/dhcp/options.js';
import type { DhcpPacket } from '../../server/dhcp/packet.js';
import { dhcpHarness, SERVER_IP, type DhcpHarness } from '../support/dhcp-harness.js';
import {
  edk2HttpDiscover,
  edk2PxeDiscover,
  GUID,
  rawPacket,
  relayedDiscover,
  seabiosIpxeDiscover,
  udhcpcDiscover,
  type OptionSpec,
} from '../fixtures/dhcp/synthetic.js';

const PROFILES = { installer: { kernel: 'kernel', initrds: ['initrd'], cmdline: 'console=ttyS0' } };
const MAC_A = '52:54:00:12:34:56'; // seabiosIpxeDiscover
const MAC_B = '52:54:00:ab:cd:ef'; // edk2 discovers
const MAC_D = '0c:c4:7a:9e:01:f2'; // relayedDiscover

let h: DhcpHarness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

const msgType = (p: DhcpPacket) => p.options.get(Opt.MessageType)?.[0];
const opt = (p: DhcpPacket, code: number) => p.options.get(code)?.toString('latin1');
const bootFile = (p: DhcpPacket) => stringOpt(p, Opt.BootFileName);

function request(mac: number[], options: OptionSpec[], extra: { ciaddr?: number[]; giaddr?: number[]; xid?: number } = {}): Buffer {
  return rawPacket({ chaddr: mac, xid: extra.xid ?? 0x1234, ...(extra.ciaddr ? { ciaddr: extra.ciaddr } : {}), ...(extra.giaddr ? { giaddr: extra.giaddr } : {}), options });
}
const macBytes = (mac: string) => mac.split(':').map((x) => parseInt(x, 16));

describe('proxy mode', () => {
  it('points SeaBIOS iPXE at its own tokenised script without an address, and skips discovery', async () => {
    h = await dhcpHarness({ profiles: PROFILES, boot: { defaultProfile: 'installer' } });
    const m = await h.addMachine({ name: 'node-a', macs: [MAC_A] });
    const out = await h.send(seabiosIpxeDiscover());
    expect(out).not.toBeNull();
    const p = out!.packet;
    expect(msgType(p)).toBe(MsgType.Offer);
    expect(p.yiaddr).toBe('0.0.0.0');
    expect(p.siaddr).toBe(SERVER_IP);
    expect(ipOpt(p, Opt.ServerId)).toBe(SERVER_IP);
    expect(opt(p, Opt.VendorClass)).toBe('PXEClient');
    expect(bootFile(p)).toBe(`http://${SERVER_IP}:8080/boot/${m.id}/${h.tokens.tokenFor(m)}/script.ipxe`);
    expect([...p.options.get(Opt.VendorSpecific)!]).toEqual([6, 1, 8, 255]);
    expect(p.options.get(Opt.ClientGuid)?.subarray(1).equals(GUID)).toBe(true);
    expect(out!.address).toBe('255.255.255.255');
    expect(out!.port).toBe(68);
    const events = await h.store.events.listForMachine(m.id);
    expect(events.map((e) => e.kind)).toEqual(['dhcp.proxy-offer']);
  });

  it('sends EDK2 PXE to the 4011 boot server (no option 43) and answers there with the TFTP file', async () => {
    h = await dhcpHarness({ profiles: PROFILES, boot: { defaultProfile: 'installer' } });
    const m = await h.addMachine({ name: 'node-b', macs: [MAC_B] });
    const offer = (await h.send(edk2PxeDiscover()))!.packet;
    expect(offer.options.has(Opt.VendorSpecific)).toBe(false);
    expect(bootFile(offer)).toBe('52-54-00-ab-cd-ef/snponly.efi');
    expect(offer.file).toBe('52-54-00-ab-cd-ef/snponly.efi');
    expect(opt(offer, Opt.TftpServerName)).toBe(SERVER_IP);

    const bootItem: OptionSpec = [43, [71, 4, 0x80, 0x00, 0x00, 0x00, 255]];
    const req = request(macBytes(MAC_B), [[53, [3]], [60, 'PXEClient:Arch:00007:UNDI:003000'], [93, [0, 7]], [97, Buffer.concat([Buffer.from([0]), GUID])], bootItem], {
      ciaddr: [10, 250, 0, 77],
    });
    const ack = await h.send(req, 'pxe', { address: '10.250.0.77', port: 4011 });
    expect(ack).not.toBeNull();
    expect(msgType(ack!.packet)).toBe(MsgType.Ack);
    expect(ack!.address).toBe('10.250.0.77');
    expect(ack!.port).toBe(4011);
    expect(bootFile(ack!.packet)).toBe('52-54-00-ab-cd-ef/snponly.efi');
    expect([...subOptions(ack!.packet.options.get(Opt.VendorSpecific)!)!.get(71)!]).toEqual([0x80, 0, 0, 0]);
    const kinds = (await h.store.events.listForMachine(m.id)).map((e) => `${e.source}:${e.kind}`);
    expect(kinds).toEqual(['dhcp:dhcp.proxy-offer', 'pxe:pxe.ack']);
  });

  it('honours a forced skip-discovery strategy for UEFI PXE', async () => {
    h = await dhcpHarness({ profiles: PROFILES, boot: { defaultProfile: 'installer' }, dhcp: { proxyStrategy: 'skip-discovery' } });
    await h.addMachine({ name: 'node-b', macs: [MAC_B] });
    const offer = (await h.send(edk2PxeDiscover()))!.packet;
    expect([...offer.options.get(Opt.VendorSpecific)!]).toEqual([6, 1, 8, 255]);
  });

  it('answers UEFI HTTP Boot with a full URL and option 60 HTTPClient', async () => {
    h = await dhcpHarness({ profiles: PROFILES, boot: { defaultProfile: 'installer' } });
    const m = await h.addMachine({ name: 'node-b', macs: [MAC_B] });
    const p = (await h.send(edk2HttpDiscover()))!.packet;
    expect(opt(p, Opt.VendorClass)).toBe('HTTPClient');
    expect(bootFile(p)).toBe(`http://${SERVER_IP}:8080/boot/${m.id}/${h.tokens.tokenFor(m)}/ipxe/snponly.efi`);
    expect(p.options.has(Opt.VendorSpecific)).toBe(false);
  });

  it('ignores plain DHCP clients and REQUESTs meant for the site server', async () => {
    h = await dhcpHarness({ profiles: PROFILES, boot: { defaultProfile: 'installer' } });
    await h.addMachine({ name: 'node-a', macs: [MAC_A] });
    expect(await h.send(udhcpcDiscover())).toBeNull();
    const other = request(macBytes(MAC_A), [[53, [3]], [54, [10, 250, 0, 2]], [50, [10, 250, 0, 100]], [60, 'PXEClient:Arch:00000:UNDI:002001'], [77, 'iPXE']]);
    expect(await h.send(other)).toBeNull();
    const ours = request(macBytes(MAC_A), [[53, [3]], [54, [10, 250, 0, 1]], [60, 'PXEClient:Arch:00000:UNDI:002001'], [77, 'iPXE']]);
    const ack = await h.send(ours);
    expect(msgType(ack!.packet)).toBe(MsgType.Ack);
    expect(ack!.packet.yiaddr).toBe('0.0.0.0');
  });

  it('records an unknown PXE client as discovered under "record" and does not answer it', async () => {
    h = await dhcpHarness({ profiles: PROFILES, boot: { defaultProfile: 'installer' }, dhcp: { unknownMachines: 'record' } });
    expect(await h.send(relayedDiscover())).toBeNull();
    const m = await h.store.machines.findByMac(MAC_D);
    expect(m?.state).toBe('discovered');
    expect(m?.discovery?.relay).toEqual({ giaddr: '10.20.0.1', circuitId: Buffer.from('eth0/1/3').toString('hex'), remoteId: '001b213c4d5e' });
    expect(m?.discovery?.clientArch).toBe(7);
    expect((await h.store.events.listForMachine(m!.id)).map((e) => e.kind)).toEqual(['machine.discovered']);
    // A second boot neither duplicates the record nor gets an answer.
    expect(await h.send(relayedDiscover())).toBeNull();
    expect((await h.store.machines.list()).total).toBe(1);
  });

  it('stops recording discovered machines at dhcp.maxDiscovered', async () => {
    h = await dhcpHarness({ profiles: PROFILES, dhcp: { unknownMachines: 'record', maxDiscovered: 2 } });
    for (let i = 0; i < 5; i++) {
      const mac = [0x02, 0, 0, 0, 0x10, i];
      expect(await h.send(request(mac, [[53, [1]], [60, 'PXEClient:Arch:00007:UNDI:003000'], [93, [0, 7]]]))).toBeNull();
    }
    expect((await h.store.machines.list({ state: 'discovered' })).total).toBe(2);
  });

  it('creates nothing for unknown clients under "ignore"', async () => {
    h = await dhcpHarness({ profiles: PROFILES, dhcp: { unknownMachines: 'ignore' } });
    expect(await h.send(edk2PxeDiscover())).toBeNull();
    expect((await h.store.machines.list()).total).toBe(0);
  });

  it('boots unknown clients under "boot", replying to the relay on port 67', async () => {
    h = await dhcpHarness({ profiles: PROFILES, boot: { defaultProfile: 'installer' }, dhcp: { unknownMachines: 'boot' } });
    const out = await h.send(relayedDiscover());
    expect(out?.address).toBe('10.20.0.1');
    expect(out?.port).toBe(67);
    expect(bootFile(out!.packet)).toBe('0c-c4-7a-9e-01-f2/snponly.efi');
  });

  it('finds a machine by SMBIOS UUID from option 97 in the swapped byte order', async () => {
    h = await dhcpHarness({ profiles: PROFILES, boot: { defaultProfile: 'installer' }, dhcp: { unknownMachines: 'ignore' } });
    const smbios = swapUuidByteOrder(uuidFromBytes(GUID));
    const m = await h.addMachine({ name: 'by-uuid', macs: ['02:00:00:00:00:01'], smbiosUuid: smbios });
    const out = await h.send(edk2PxeDiscover());
    expect(out).not.toBeNull();
    expect((await h.store.events.listForMachine(m.id)).map((e) => e.kind)).toEqual(['identity.unregistered-mac', 'dhcp.proxy-offer']);
  });

  it('does not answer a client whose architecture has no build', async () => {
    h = await dhcpHarness({ profiles: PROFILES, boot: { defaultProfile: 'installer' } });
    const m = await h.addMachine({ name: 'odd', macs: [MAC_B] });
    const p = request(macBytes(MAC_B), [[53, [1]], [60, 'PXEClient:Arch:00002:UNDI:003000'], [93, [0, 2]]]);
    expect(await h.send(p)).toBeNull();
    const [ev] = await h.store.events.listForMachine(m.id);
    expect(ev?.outcome).toBe('error');
    expect(ev?.message).toContain('architecture 2');
  });
});

const FULL = {
  profiles: PROFILES,
  boot: { defaultProfile: 'installer' },
  dhcp: {
    mode: 'full',
    subnets: [
      { cidr: '10.250.0.0/24', gateway: '10.250.0.254', dns: ['10.250.0.53'], domain: 'lab.example', leaseSeconds: 600, pool: { start: '10.250.0.100', end: '10.250.0.101' } },
      { cidr: '10.250.20.0/24', gateway: '10.250.20.1', pool: { start: '10.250.20.10', end: '10.250.20.20' } },
    ],
  },
};

async function dora(hh: DhcpHarness, mac: string, extra: OptionSpec[] = []) {
  const offer = await hh.send(request(macBytes(mac), [[53, [1]], ...extra]));
  if (offer === null) return { offer, ack: null };
  const ip = offer.packet.yiaddr.split('.').map(Number);
  const ack = await hh.send(request(macBytes(mac), [[53, [3]], [54, [10, 250, 0, 1]], [50, ip], ...extra]));
  return { offer, ack };
}

describe('full mode', () => {
  it('offers a machine its reserved address with network options, and persists the lease on ACK', async () => {
    h = await dhcpHarness(FULL);
    const m = await h.addMachine({ name: 'cp-1', macs: [MAC_A], network: { ip: '10.250.0.50', prefix: 24, hostname: 'cp-1' } });
    const { offer, ack } = await dora(h, MAC_A, [[60, 'PXEClient:Arch:00000:UNDI:002001'], [93, [0, 0]], [77, 'iPXE'], [175, [0x13, 1, 1]]]);
    expect(offer!.packet.yiaddr).toBe('10.250.0.50');
    expect(msgType(offer!.packet)).toBe(MsgType.Offer);
    const p = ack!.packet;
    expect(msgType(p)).toBe(MsgType.Ack);
    expect(p.yiaddr).toBe('10.250.0.50');
    expect(ipOpt(p, Opt.SubnetMask)).toBe('255.255.255.0');
    expect(ipOpt(p, Opt.Router)).toBe('10.250.0.254');
    expect(ipOpt(p, Opt.DomainServer)).toBe('10.250.0.53');
    expect(u32Opt(p, Opt.LeaseTime)).toBe(600);
    expect(opt(p, Opt.HostName)).toBe('cp-1');
    expect(opt(p, Opt.DomainName)).toBe('lab.example');
    expect(bootFile(p)).toContain(`/boot/${m.id}/`);
    // iPXE is told not to wait for ProxyDHCP offers.
    expect([...subOptions(p.options.get(Opt.Ipxe)!)!.get(176)!]).toEqual([1]);
    const leases = await h.store.leases.all();
    expect(leases).toMatchObject([{ ip: '10.250.0.50', mac: MAC_A, machineId: m.id, state: 'bound' }]);
    expect((await h.store.events.listForMachine(m.id)).map((e) => e.kind)).toEqual(['dhcp.offer', 'dhcp.ack']);
  });

  it('gives EDK2 PXE its TFTP file without option 60, which EDK2 would read as a BINL offer and reject', async () => {
    h = await dhcpHarness(FULL);
    await h.addMachine({ name: 'uefi-1', macs: [MAC_B] });
    const p = (await h.send(edk2PxeDiscover()))!.packet;
    expect(p.yiaddr).toBe('10.250.0.100');
    expect(bootFile(p)).toBe('52-54-00-ab-cd-ef/snponly.efi');
    expect(p.siaddr).toBe(SERVER_IP);
    expect(p.options.has(Opt.VendorClass)).toBe(false);
    expect(p.options.has(Opt.VendorSpecific)).toBe(false);
    const http = (await h.send(edk2HttpDiscover()))!.packet;
    expect(opt(http, Opt.VendorClass)).toBe('HTTPClient');
  });

  it('leases pool addresses to plain clients, keeps them across a restart, and runs dry without hanging', async () => {
    h = await dhcpHarness(FULL);
    const a = await dora(h, '02:00:00:00:00:0a');
    const b = await dora(h, '02:00:00:00:00:0b');
    expect(new Set([a.ack!.packet.yiaddr, b.ack!.packet.yiaddr])).toEqual(new Set(['10.250.0.100', '10.250.0.101']));
    expect(await h.send(request(macBytes('02:00:00:00:00:0c'), [[53, [1]]]))).toBeNull();
    // No netboot client was involved, so no machine was recorded.
    expect((await h.store.machines.list()).total).toBe(0);

    const again = await dhcpHarness(FULL, h.dir);
    try {
      const re = await again.send(request(macBytes('02:00:00:00:00:0a'), [[53, [1]]]));
      expect(re!.packet.yiaddr).toBe(a.ack!.packet.yiaddr);
    } finally {
      await again.store.close();
    }
  });

  it('renews by ciaddr with a unicast ACK, and NAKs an address that is not the client\'s', async () => {
    h = await dhcpHarness(FULL);
    const { ack } = await dora(h, '02:00:00:00:00:0a');
    const ip = ack!.packet.yiaddr.split('.').map(Number);
    const renew = await h.send(request(macBytes('02:00:00:00:00:0a'), [[53, [3]]], { ciaddr: ip }));
    expect(msgType(renew!.packet)).toBe(MsgType.Ack);
    expect(renew!.address).toBe(ack!.packet.yiaddr);
    expect(renew!.port).toBe(68);

    const thief = await h.send(request(macBytes('02:00:00:00:00:0b'), [[53, [3]], [50, ip]]));
    expect(msgType(thief!.packet)).toBe(MsgType.Nak);
    expect(thief!.address).toBe('255.255.255.255');
    const outside = await h.send(request(macBytes('02:00:00:00:00:0b'), [[53, [3]], [54, [10, 250, 0, 1]], [50, [10, 250, 0, 7]]]));
    expect(msgType(outside!.packet)).toBe(MsgType.Nak);
  });

  it('withdraws its offer when the client selects another server', async () => {
    h = await dhcpHarness(FULL);
    const offer = await h.send(request(macBytes('02:00:00:00:00:0a'), [[53, [1]]]));
    const ip = offer!.packet.yiaddr.split('.').map(Number);
    expect(await h.send(request(macBytes('02:00:00:00:00:0a'), [[53, [3]], [54, [10, 250, 0, 9]], [50, ip]]))).toBeNull();
    // The held address is free again for any client.
    expect(h.leases!.freeFor(offer!.packet.yiaddr, '02:00:00:00:00:0b')).toBe(true);
    expect(h.leases!.leaseOf('02:00:00:00:00:0a')).toBeUndefined();
  });

  it('quarantines a DECLINEd address and frees a RELEASEd one', async () => {
    h = await dhcpHarness(FULL);
    const a = await dora(h, '02:00:00:00:00:0a');
    const ipA = a.ack!.packet.yiaddr;
    await h.send(request(macBytes('02:00:00:00:00:0a'), [[53, [4]], [54, [10, 250, 0, 1]], [50, ipA.split('.').map(Number)]]));
    expect((await h.store.leases.all()).find((l) => l.ip === ipA)?.state).toBe('declined');
    const b = await dora(h, '02:00:00:00:00:0b');
    expect(b.ack!.packet.yiaddr).not.toBe(ipA);
    await h.send(request(macBytes('02:00:00:00:00:0b'), [[53, [7]], [54, [10, 250, 0, 1]]], { ciaddr: b.ack!.packet.yiaddr.split('.').map(Number) }));
    expect((await h.store.leases.all()).some((l) => l.ip === b.ack!.packet.yiaddr)).toBe(false);
  });

  it('answers INFORM with configuration but no address', async () => {
    h = await dhcpHarness(FULL);
    const out = await h.send(request(macBytes('02:00:00:00:00:0a'), [[53, [8]]], { ciaddr: [10, 250, 0, 33] }));
    expect(msgType(out!.packet)).toBe(MsgType.Ack);
    expect(out!.packet.yiaddr).toBe('0.0.0.0');
    expect(out!.packet.options.has(Opt.LeaseTime)).toBe(false);
    expect(ipOpt(out!.packet, Opt.Router)).toBe('10.250.0.254');
    expect(out!.address).toBe('10.250.0.33');
  });

  it('serves a relayed client from the subnet of its relay and replies to the relay', async () => {
    h = await dhcpHarness(FULL);
    const out = await h.send(request(macBytes('02:00:00:00:00:0a'), [[53, [1]]], { giaddr: [10, 250, 20, 1] }));
    expect(out!.packet.yiaddr).toBe('10.250.20.10');
    expect(out!.address).toBe('10.250.20.1');
    expect(out!.port).toBe(67);
    expect(ipOpt(out!.packet, Opt.Router)).toBe('10.250.20.1');
  });

  it('keeps a recorded-but-unbootable discovered client off the boot path', async () => {
    h = await dhcpHarness({ ...FULL, boot: {}, dhcp: { ...FULL.dhcp, unknownMachines: 'record' } });
    const out = await h.send(edk2PxeDiscover());
    expect(out!.packet.yiaddr).toBe('10.250.0.100');
    expect(out!.packet.options.has(Opt.BootFileName)).toBe(false);
    expect((await h.store.machines.findByMac(MAC_B))?.state).toBe('discovered');
  });
});
