import { describe, expect, it } from 'vitest';
import { ConfigError, parseVbmcConfig } from '../../vbmc/index.js';
import { FaultInjector } from '../../vbmc/faults.js';

describe('vbmc config', () => {
  const good = `bmcs:\n  - name: n1\n    username: a\n    password: b\n    machine:\n      nics: [{ mac: "52:54:00:00:00:01", tap: tap0 }]\n`;

  it('accepts a minimal config', () => {
    const c = parseVbmcConfig(good, 'vbmc.yaml');
    expect(c.bmcs[0]).toMatchObject({ name: 'n1', machine: { nics: [{ mac: '52:54:00:00:00:01', tap: 'tap0' }] } });
  });

  it('names the offending property', () => {
    expect(() => parseVbmcConfig(good.replace('52:54:00:00:00:01', 'not-a-mac'), 'vbmc.yaml')).toThrow(/vbmc\.yaml: \/bmcs\/0\/machine\/nics\/0\/mac/);
    expect(() => parseVbmcConfig(good.replace('username: a', 'username: a\n    personality: ibm'), 'vbmc.yaml')).toThrow(ConfigError);
    expect(() => parseVbmcConfig(`${good}  - name: n1\n    username: a\n    password: b\n    machine: { nics: [{ mac: "52:54:00:00:00:02" }] }\n`, 'vbmc.yaml')).toThrow(/n1 is used twice/);
    expect(() => parseVbmcConfig('{', 'vbmc.json')).toThrow(/not valid JSON/);
  });
});

describe('vbmc fault injection PRNG', () => {
  it('replays the same faults for the same seed and request sequence', () => {
    const run = (seed: number) => {
      const f = new FaultInjector({ seed, errorRate: 0.3, unavailableRate: 0.2, latencyMinMs: 0, latencyMaxMs: 50 });
      return Array.from({ length: 200 }, (_, i) => f.decide(i % 3 === 0 ? 'PATCH' : 'GET'));
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
    const kinds = new Set(run(42).map((d) => d.kind));
    expect(kinds).toEqual(new Set(['none', 'error', 'unavailable']));
  });

  it('leaves methods outside the list alone', () => {
    const f = new FaultInjector({ errorRate: 1, methods: ['PATCH'] });
    expect(f.decide('GET').kind).toBe('none');
    expect(f.decide('PATCH').kind).toBe('error');
  });
});
