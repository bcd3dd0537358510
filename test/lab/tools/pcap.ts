// Minimal reader for classic libpcap files (what `tcpdump -w` writes): 24-byte global header, then records of
// a 16-byte header + captured bytes. Only Ethernet (linktype 1) frames carrying IPv4/UDP are returned;
// 802.1Q tags are skipped, IP fragments ignored. Enough to pull DHCP payloads out of a lab capture.

export interface UdpDatagram {
  /** Record number in the file, from 0. */
  index: number;
  /** Capture time in microseconds since the epoch. */
  timeUs: number;
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

const LINKTYPE_ETHERNET = 1;

function mac(b: Buffer, off: number): string {
  return [...b.subarray(off, off + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function ip4(b: Buffer, off: number): string {
  return [...b.subarray(off, off + 4)].join('.');
}

export function readPcapUdp(file: Buffer): UdpDatagram[] {
  if (file.length < 24) throw new Error('pcap: file shorter than the global header');
  const magicLe = file.readUInt32LE(0);
  let le: boolean;
  let nano: boolean;
  if (magicLe === 0xa1b2c3d4 || magicLe === 0xa1b23c4d) {
    le = true;
    nano = magicLe === 0xa1b23c4d;
  } else {
    const magicBe = file.readUInt32BE(0);
    if (magicBe !== 0xa1b2c3d4 && magicBe !== 0xa1b23c4d) throw new Error(`pcap: bad magic 0x${magicLe.toString(16)}`);
    le = false;
    nano = magicBe === 0xa1b23c4d;
  }
  const u32 = (off: number): number => (le ? file.readUInt32LE(off) : file.readUInt32BE(off));
  const linktype = u32(20) & 0x0fffffff;
  if (linktype !== LINKTYPE_ETHERNET) throw new Error(`pcap: linktype ${linktype} is not Ethernet`);

  const out: UdpDatagram[] = [];
  let off = 24;
  let index = 0;
  while (off + 16 <= file.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const inclLen = u32(off + 8);
    const start = off + 16;
    const end = start + inclLen;
    if (end > file.length) break; // truncated last record (capture still being written)
    const frame = file.subarray(start, end);
    const d = parseEthernetUdp(frame);
    if (d) out.push({ index, timeUs: sec * 1e6 + (nano ? Math.floor(frac / 1000) : frac), ...d });
    off = end;
    index++;
  }
  return out;
}

function parseEthernetUdp(f: Buffer): Omit<UdpDatagram, 'index' | 'timeUs'> | undefined {
  if (f.length < 14) return undefined;
  let etherType = f.readUInt16BE(12);
  let l3 = 14;
  while ((etherType === 0x8100 || etherType === 0x88a8) && f.length >= l3 + 4) {
    etherType = f.readUInt16BE(l3 + 2);
    l3 += 4;
  }
  if (etherType !== 0x0800 || f.length < l3 + 20) return undefined;
  const vihl = f.readUInt8(l3);
  if (vihl >> 4 !== 4) return undefined;
  const ihl = (vihl & 0x0f) * 4;
  const totalLen = f.readUInt16BE(l3 + 2);
  const flagsFrag = f.readUInt16BE(l3 + 6);
  const proto = f.readUInt8(l3 + 9);
  if (proto !== 17) return undefined;
  if ((flagsFrag & 0x2000) !== 0 || (flagsFrag & 0x1fff) !== 0) return undefined; // fragment
  const l4 = l3 + ihl;
  const ipEnd = Math.min(f.length, l3 + totalLen);
  if (ipEnd < l4 + 8) return undefined;
  const udpLen = f.readUInt16BE(l4 + 4);
  const payloadEnd = Math.min(ipEnd, l4 + udpLen);
  return {
    dstMac: mac(f, 0),
    srcMac: mac(f, 6),
    srcIp: ip4(f, l3 + 12),
    dstIp: ip4(f, l3 + 16),
    srcPort: f.readUInt16BE(l4),
    dstPort: f.readUInt16BE(l4 + 2),
    payload: Buffer.from(f.subarray(l4 + 8, payloadEnd)),
  };
}
