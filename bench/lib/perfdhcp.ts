// Parser for perfdhcp's (Kea 2.x) final report. Only the numbers the benchmark reports are extracted:
//
//   ***Rate statistics***
//   Rate: 999.161 4-way exchanges/second, expected rate: 1000
//   ***Statistics for: DISCOVER-OFFER***
//   sent packets: 4999
//   received packets: 4548
//   drops: 451
//   drops ratio: 9.0218 %
//   ...
//   avg delay: 28.996 ms

export interface ExchangeStats {
  sent: number;
  received: number;
  drops: number;
  /** Percent, as perfdhcp prints it. */
  dropPercent: number;
  /** Milliseconds; null when nothing was received (perfdhcp prints no number then). */
  avgDelayMs: number | null;
}

export interface PerfdhcpReport {
  /** Completed 4-way exchanges per second. */
  rate: number;
  expectedRate: number | null;
  discoverOffer: ExchangeStats;
  requestAck: ExchangeStats;
}

const SECTION = /^\*\*\*Statistics for: ([A-Z-]+)\*\*\*$/;

function num(text: string | undefined): number | null {
  if (text === undefined) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

function parseSection(lines: string[]): ExchangeStats | null {
  const field = (name: string): string | undefined => {
    const prefix = `${name}:`;
    return lines.find((l) => l.startsWith(prefix))?.slice(prefix.length).trim();
  };
  const sent = num(field('sent packets'));
  const received = num(field('received packets'));
  if (sent === null || received === null) return null;
  const drops = num(field('drops')) ?? Math.max(0, sent - received);
  const ratio = num(field('drops ratio')?.replace(/%$/, '').trim());
  const delay = num(field('avg delay')?.replace(/ms$/, '').trim());
  return {
    sent,
    received,
    drops,
    dropPercent: ratio ?? (sent === 0 ? 0 : (100 * drops) / sent),
    avgDelayMs: received === 0 ? null : delay,
  };
}

/** Parses a complete perfdhcp -4 report; throws with the reason when a required part is missing. */
export function parsePerfdhcp(output: string): PerfdhcpReport {
  const lines = output.split(/\r?\n/).map((l) => l.trim());
  const rateLine = lines.find((l) => l.startsWith('Rate:'));
  const m = rateLine === undefined ? null : /^Rate:\s*([0-9.eE+-]+)\s+4-way exchanges\/second(?:,\s*expected rate:\s*([0-9.]+))?/.exec(rateLine);
  if (m === null) throw new Error('perfdhcp report has no "Rate: ... 4-way exchanges/second" line');
  const sections = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const l of lines) {
    const s = SECTION.exec(l);
    if (s !== null) {
      current = [];
      sections.set(s[1] as string, current);
    } else if (l.startsWith('***')) {
      current = null;
    } else if (current !== null) {
      current.push(l);
    }
  }
  const get = (name: string): ExchangeStats => {
    const sec = sections.get(name);
    const parsed = sec === undefined ? null : parseSection(sec);
    if (parsed === null) throw new Error(`perfdhcp report has no usable "${name}" statistics`);
    return parsed;
  };
  return { rate: Number(m[1]), expectedRate: num(m[2]), discoverOffer: get('DISCOVER-OFFER'), requestAck: get('REQUEST-ACK') };
}

/** A rung passes when both exchanges lost less than maxDropPercent. */
export function rungPasses(r: PerfdhcpReport, maxDropPercent = 1): boolean {
  return r.discoverOffer.dropPercent < maxDropPercent && r.requestAck.dropPercent < maxDropPercent;
}

/** The highest target rate whose rung passed, or null when none did. */
export function highestPassingRate(rungs: ReadonlyArray<{ target: number; report: PerfdhcpReport | null }>, maxDropPercent = 1): number | null {
  let best: number | null = null;
  for (const r of rungs) if (r.report !== null && rungPasses(r.report, maxDropPercent) && (best === null || r.target > best)) best = r.target;
  return best;
}
