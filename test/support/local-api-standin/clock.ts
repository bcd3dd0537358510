// The stand-in's sense of time. Real time plus an offset the test can push forward, so a link
// token or a JWT can be made to expire without waiting two minutes (or two hours).

export class StandinClock {
  private offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}
