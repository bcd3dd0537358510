/**
 * Runs jobs with two bounds at once: how many run in total, and how many run per key (one BMC
 * address). Jobs start in submission order, except that a job whose key is saturated lets later jobs
 * for other keys go first, so one busy chassis manager does not hold up the rest of a rack.
 */
export class ConcurrencyLimiter {
  private active = 0;
  private readonly perKey = new Map<string, number>();
  private readonly waiting: { key: string; start: () => void }[] = [];

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerKey: number,
  ) {}

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  run<T>(key: string, job: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({
        key,
        start: () => {
          job()
            .then(resolve, reject)
            .finally(() => {
              this.active--;
              const n = (this.perKey.get(key) ?? 1) - 1;
              if (n === 0) this.perKey.delete(key);
              else this.perKey.set(key, n);
              this.pump();
            });
        },
      });
      this.pump();
    });
  }

  private pump(): void {
    for (let i = 0; i < this.waiting.length && this.active < this.maxTotal; ) {
      const w = this.waiting[i]!;
      const n = this.perKey.get(w.key) ?? 0;
      if (n >= this.maxPerKey) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.active++;
      this.perKey.set(w.key, n + 1);
      w.start();
    }
  }
}
