// What the machine is and how busy it is, printed with every result.

import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem, release } from 'node:os';

export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

export function oneMinuteLoad(): number {
  return loadavg()[0] ?? 0;
}

export function machineSummary(): string[] {
  const cpu = cpus();
  return [
    `CPU: ${cpu.length} x ${cpu[0]?.model ?? 'unknown'}`,
    `memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB, kernel ${release()}, Node ${process.version}`,
  ];
}

/** First line of `<cmd> <flag>` (stdout or stderr), or 'not installed'. */
export function toolVersion(cmd: string, args: readonly string[]): string {
  try {
    const out = execFileSync(cmd, [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    return firstLine(out);
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: string };
    if (err.code === 'ENOENT') return 'not installed';
    return firstLine(`${err.stdout ?? ''}${err.stderr ?? ''}`) || 'unknown version';
  }
}

function firstLine(s: string): string {
  return (
    s
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.length > 0) ?? ''
  );
}

/** Debian package version, or null when it is not installed. */
export function debVersion(pkg: string): string | null {
  try {
    const out = execFileSync('dpkg-query', ['-W', '-f=${Status} ${Version}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const m = /^install ok installed (\S+)/.exec(out);
    return m === null ? null : (m[1] ?? null);
  } catch {
    return null;
  }
}
