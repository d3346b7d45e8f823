import { execFileSync } from 'node:child_process';

/**
 * Where Debian's `prometheus` package put a binary (`promtool`, `prometheus`), or null. CI sets
 * PIXELFIND_REQUIRE_SERVICES=1: then a missing binary throws, so the tests that need it fail
 * instead of skipping (`bash infra/scripts/setup.sh --test` installs the package).
 */
export function prometheusBinary(name: 'promtool' | 'prometheus'): string | null {
  const found = (() => {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null;
    } catch {
      return null;
    }
  })();
  if (found) return found;
  const message = `${name} is missing: install Debian's prometheus package (bash infra/scripts/setup.sh --test)`;
  if (process.env.PIXELFIND_REQUIRE_SERVICES === '1')
    throw new Error(`${message}; PIXELFIND_REQUIRE_SERVICES=1 requires it`);
  console.warn(`[tests] ${message}; its tests are skipped`);
  return null;
}
