// Seeded xorshift32 for the ISO9660 fuzz test: every variant is reproducible from the seed and its index.
export class IsoPrng {
  private x: number;

  constructor(seed: number) {
    this.x = seed >>> 0 || 0x2545f491;
  }

  u32(): number {
    let x = this.x;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.x = x;
    return x;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }

  byte(): number {
    return this.u32() & 0xff;
  }

  chance(oneIn: number): boolean {
    return this.int(oneIn) === 0;
  }

  pick<T>(items: readonly T[]): T {
    const v = items[this.int(items.length)];
    if (v === undefined) throw new Error('pick from an empty list');
    return v;
  }
}
