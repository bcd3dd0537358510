import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** boot-assets/ ships beside server/ both in the source tree and next to dist/ after a build. */
export function bundledBootAssets(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'boot-assets');
    if (existsSync(join(candidate, 'templates'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('boot-assets/ not found beside the rackboot installation');
}
