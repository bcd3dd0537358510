import { describe, expect, it } from 'vitest';
import { highestPassingRate, parsePerfdhcp, rungPasses, type PerfdhcpReport } from '../../bench/lib/perfdhcp.js';
import { fmt, fmtSeconds, formatTable, median } from '../../bench/lib/table.js';

// Real perfdhcp (Kea 2.2.0) output from a rackboot run, trimmed of nothing.
const REPORT = `Running: perfdhcp -4 -l 10.250.0.2 -R 10000 -r 1000 -p 5 -d 2 10.250.0.1
Scenario: basic.
Multi-thread mode enabled.
***Rate statistics***
Rate: 898.297 4-way exchanges/second, expected rate: 1000

***Malformed Packets***
Malformed packets: 0
***Statistics for: DISCOVER-OFFER***
sent packets: 4999
received packets: 4548
drops: 451
drops ratio: 9.0218 %
orphans: 0
rejected leases: 0
non unique addresses: 0

min delay: 0.085 ms
avg delay: 28.996 ms
max delay: 200.582 ms
std deviation: 41.037 ms
collected packets: 134

***Statistics for: REQUEST-ACK***
sent packets: 4548
received packets: 4492
drops: 56
drops ratio: 1.231 %
orphans: 0
rejected leases: 0
non unique addresses: 0

min delay: 0.071 ms
avg delay: 23.229 ms
max delay: 200.611 ms
std deviation: 37.774 ms
collected packets: 31
`;

function report(doDrop: number, raDrop: number): PerfdhcpReport {
  const ex = (dropPercent: number) => ({ sent: 100, received: 100 - dropPercent, drops: dropPercent, dropPercent, avgDelayMs: 0.2 });
  return { rate: 100, expectedRate: 100, discoverOffer: ex(doDrop), requestAck: ex(raDrop) };
}

describe('perfdhcp report parser', () => {
  it('reads the rate and both exchanges', () => {
    const r = parsePerfdhcp(REPORT);
    expect(r.rate).toBeCloseTo(898.297);
    expect(r.expectedRate).toBe(1000);
    expect(r.discoverOffer).toEqual({ sent: 4999, received: 4548, drops: 451, dropPercent: 9.0218, avgDelayMs: 28.996 });
    expect(r.requestAck).toEqual({ sent: 4548, received: 4492, drops: 56, dropPercent: 1.231, avgDelayMs: 23.229 });
  });

  it('accepts a whole-number drop ratio and reports no delay when nothing came back', () => {
    const text = REPORT.replace('drops ratio: 9.0218 %', 'drops ratio: 0 %')
      .replace('received packets: 4492', 'received packets: 0')
      .replace('avg delay: 23.229 ms', 'avg delay: n/a');
    const r = parsePerfdhcp(text);
    expect(r.discoverOffer.dropPercent).toBe(0);
    expect(r.requestAck.received).toBe(0);
    expect(r.requestAck.avgDelayMs).toBeNull();
  });

  it('throws with a reason on truncated or foreign output', () => {
    expect(() => parsePerfdhcp('Error running perfdhcp: Failed to bind socket 3 to 10.250.0.2/port=67')).toThrow(/Rate/);
    expect(() => parsePerfdhcp(REPORT.slice(0, REPORT.indexOf('***Statistics for: REQUEST-ACK')))).toThrow(/REQUEST-ACK/);
  });

  it('passes a rung only when both exchanges lost under 1 %', () => {
    expect(rungPasses(report(0.99, 0))).toBe(true);
    expect(rungPasses(report(0, 1))).toBe(false);
    expect(rungPasses(report(1.5, 0))).toBe(false);
  });

  it('finds the highest passing target, ignoring failed runs', () => {
    const rungs = [
      { target: 250, report: report(0, 0) },
      { target: 500, report: report(0.2, 0.1) },
      { target: 1000, report: report(5, 2) },
      { target: 2000, report: null },
    ];
    expect(highestPassingRate(rungs)).toBe(500);
    expect(highestPassingRate([{ target: 250, report: report(3, 3) }])).toBeNull();
  });
});

describe('table helpers', () => {
  it('renders an aligned Markdown table with escaped pipes and notes', () => {
    const out = formatTable({ title: 'T', headers: ['name', 'n'], rows: [['a|b', '1'], ['long name', '12.5']], notes: ['note'] });
    expect(out.split('\n')).toEqual(['### T', '', '| name      |    n |', '|-----------|-----:|', '| a\\|b      |    1 |', '| long name | 12.5 |', '', '- note']);
  });

  it('honours explicit alignment and pads missing cells', () => {
    const out = formatTable({ title: 'T', headers: ['a', 'b', 'c'], align: ['left', 'left', 'right'], rows: [['x']] });
    expect(out.split('\n').slice(2)).toEqual(['| a   | b   |   c |', '|-----|-----|----:|', '| x   |     |     |']);
  });

  it('computes medians and formats numbers', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    expect(fmt(1.234, 2)).toBe('1.23');
    expect(fmt(null)).toBe('–');
    expect(fmt(Number.NaN)).toBe('–');
    expect(fmtSeconds(0.0434)).toBe('0.043');
    expect(fmtSeconds(1.378)).toBe('1.38');
    expect(fmtSeconds(12.44)).toBe('12.4');
  });
});
