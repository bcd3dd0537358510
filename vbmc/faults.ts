// Fault injection for one virtual BMC. Each Redfish request draws from a seeded PRNG, in a fixed
// order (hang, 503, 500, then the per-kind faults), so a seed reproduces the same faults for the
// same request sequence. Settings can be replaced at runtime through /vbmc/faults; replacing them
// re-seeds the PRNG.

import { FaultPrng } from './prng.js';
import type { FaultSettings } from './schemas.js';

export type FaultDecision =
  | { kind: 'none'; delayMs: number }
  | { kind: 'hang' }
  | { kind: 'unavailable'; delayMs: number; retryAfterSeconds: number }
  | { kind: 'error'; delayMs: number };

export interface FaultCounters {
  requests: number;
  hang: number;
  unavailable: number;
  error: number;
  precondition: number;
  sessionExpiry: number;
}

export class FaultInjector {
  private settings: FaultSettings = {};
  private prng = new FaultPrng(1);
  readonly counters: FaultCounters = { requests: 0, hang: 0, unavailable: 0, error: 0, precondition: 0, sessionExpiry: 0 };

  constructor(initial: FaultSettings = {}) {
    this.set(initial);
  }

  set(settings: FaultSettings): void {
    this.settings = { ...settings };
    this.prng = new FaultPrng(settings.seed ?? 1);
  }

  get(): FaultSettings {
    return { ...this.settings };
  }

  private applies(method: string): boolean {
    const m = this.settings.methods;
    return m === undefined || (m as string[]).includes(method);
  }

  /** Decides what happens to one request before it is processed. */
  decide(method: string): FaultDecision {
    this.counters.requests++;
    if (!this.applies(method)) return { kind: 'none', delayMs: 0 };
    const s = this.settings;
    const delayMs = this.prng.between(s.latencyMinMs ?? 0, Math.max(s.latencyMinMs ?? 0, s.latencyMaxMs ?? s.latencyMinMs ?? 0));
    if (this.prng.chance(s.hangRate ?? 0)) {
      this.counters.hang++;
      return { kind: 'hang' };
    }
    if (this.prng.chance(s.unavailableRate ?? 0)) {
      this.counters.unavailable++;
      return { kind: 'unavailable', delayMs, retryAfterSeconds: s.retryAfterSeconds ?? 1 };
    }
    if (this.prng.chance(s.errorRate ?? 0)) {
      this.counters.error++;
      return { kind: 'error', delayMs };
    }
    return { kind: 'none', delayMs };
  }

  /** A 412 for a PATCH whose precondition was actually right. */
  precondition(method: string): boolean {
    if (!this.applies(method) || !this.prng.chance(this.settings.preconditionRate ?? 0)) return false;
    this.counters.precondition++;
    return true;
  }

  /** A 401 for a valid session token. */
  sessionExpired(method: string): boolean {
    if (!this.applies(method) || !this.prng.chance(this.settings.sessionExpiryRate ?? 0)) return false;
    this.counters.sessionExpiry++;
    return true;
  }
}
