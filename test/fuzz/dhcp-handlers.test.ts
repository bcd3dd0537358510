import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { classify } from '../../server/dhcp/classify.js';
import { decodePacket, encodePacket } from '../../server/dhcp/packet.js';
import { dhcpHarness, type DhcpHarness } from '../support/dhcp-harness.js';
import { SYNTHETIC } from '../fixtures/dhcp/synthetic.js';

// Beyond the codec: mutated real client packets that still decode are pushed through the decision
// layer of both modes, against a real store. Nothing may throw, and every reply must encode.

const CAPTURES = fileURLToPath(new URL('../fixtures/dhcp/captures/', import.meta.url));

function seeds(): Buffer[] {
  const out = SYNTHETIC.map((s) => s.build());
  for (const f of readdirSync(CAPTURES).filter((n) => n.endsWith('.json'))) {
    for (const p of JSON.parse(readFileSync(join(CAPTURES, f), 'utf8')) as Array<{ hex: string }>) {
      const b = Buffer.from(p.hex, 'hex');
      if (b[0] === 1) out.push(b); // client requests only
    }
  }
  return out;
}

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0) / 2 ** 32);
}

/** Mutations that keep most packets decodable, so the handlers see odd but well-formed input. */
function mutate(base: Buffer, rand: () => number): Buffer {
  const b = Buffer.from(base);
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.4 && b.length > 240) b[240 + Math.floor(rand() * (b.length - 240))] = Math.floor(rand() * 256); // option bytes
    else if (r < 0.55) b[Math.floor(rand() * 236)] = Math.floor(rand() * 256); // header bytes
    else if (r < 0.7) b.writeUInt8([1, 2, 3, 4, 5, 6, 7, 8, 9][Math.floor(rand() * 9)]!, 242); // message type (usually at 242)
    else if (r < 0.85) b.fill(0, 12 + Math.floor(rand() * 4) * 4, 16 + Math.floor(rand() * 4) * 4); // zero some addresses
    else b[28 + Math.floor(rand() * 6)] = Math.floor(rand() * 4); // chaddr, so a few MACs repeat
  }
  return b;
}

const PER_MODE = 25_000;

describe('DHCP decision layer under mutated real packets', () => {
  const harnesses: DhcpHarness[] = [];
  afterAll(async () => {
    for (const h of harnesses) await h.close();
  });

  for (const mode of ['proxy', 'full'] as const) {
    it(`${mode} mode: ${PER_MODE} packets, no exception, every reply encodes`, async () => {
      const h = await dhcpHarness({
        profiles: { p: { kernel: 'k', initrds: ['i'] } },
        boot: { defaultProfile: 'p' },
        dhcp: {
          mode,
          unknownMachines: 'boot',
          ...(mode === 'full' ? { subnets: [{ cidr: '10.250.0.0/24', pool: { start: '10.250.0.10', end: '10.250.0.40' } }, { cidr: '10.20.0.0/16', pool: { start: '10.20.0.10', end: '10.20.0.20' } }] } : {}),
        },
      });
      harnesses.push(h);
      await h.addMachine({ name: 'known', macs: ['52:54:00:12:34:56'], network: { ip: '10.250.0.50', prefix: 24 } });
      const rand = prng(mode === 'full' ? 0xfeed : 0xbeef);
      const base = seeds();
      let decoded = 0;
      let replies = 0;
      const thrown: string[] = [];
      for (let i = 0; i < PER_MODE; i++) {
        const raw = mutate(base[Math.floor(rand() * base.length)]!, rand);
        const d = decodePacket(raw);
        if (!d.ok) continue;
        const client = classify(d.packet);
        if (client === null) continue;
        decoded++;
        try {
          const via = rand() < 0.2 ? 'pxe' : 'dhcp';
          const out = await h.handler.handle({ packet: d.packet, client, via, remote: { address: '10.250.0.77', port: 68 } });
          if (out !== null) {
            replies++;
            const enc = encodePacket(out.packet);
            if (!enc.ok) thrown.push(`encode: ${enc.reason}`);
          }
        } catch (e) {
          thrown.push(String(e));
        }
      }
      expect(thrown.slice(0, 5)).toEqual([]);
      // The mutations must actually reach the handlers and produce answers, or the test proves nothing.
      expect(decoded).toBeGreaterThan(PER_MODE / 2);
      expect(replies).toBeGreaterThan(100);
    }, 300_000);
  }
});
