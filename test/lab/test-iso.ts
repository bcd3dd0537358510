// The test appliance builder lives in the product (`rackboot lab up` uses it); tests build it into
// <repo>/test/.cache so every test file shares one build.
import { fileURLToPath } from 'node:url';
import { buildTestAppliance as build, type TestAppliance } from '../../server/lab/test-appliance.js';

export type { TestAppliance } from '../../server/lab/test-appliance.js';

/** <repo>/test/.cache (gitignored). */
export function defaultCacheDir(): string {
  return fileURLToPath(new URL('../.cache/', import.meta.url)).replace(/\/$/, '');
}

export function buildTestAppliance(cacheDir: string = defaultCacheDir()): Promise<TestAppliance> {
  return build(cacheDir);
}
