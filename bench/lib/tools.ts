// Which of the commands a section needs are not installed.

import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export function findExecutable(cmd: string): string | undefined {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter((d) => d.length > 0);
  for (const d of ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin']) if (!dirs.includes(d)) dirs.push(d);
  for (const d of dirs) {
    try {
      accessSync(join(d, cmd), constants.X_OK);
      return join(d, cmd);
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function findMissing(cmds: readonly string[]): string[] {
  return [...new Set(cmds)].filter((c) => findExecutable(c) === undefined);
}
