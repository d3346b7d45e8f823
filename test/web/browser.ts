// Debian's Chromium driven by playwright-core for the web app's tests: headless, a fresh
// profile each run, and the network closed (every request not to the app under test fails
// and is recorded, so a test can prove the page loads nothing from elsewhere).
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const chromiumInstalled = existsSync(CHROMIUM_PATH);
/**
 * Without Chromium the browser suite is skipped with a warning, unless CI asks for every
 * service (PIXELFIND_REQUIRE_SERVICES=1): then it runs and fails saying what to install.
 */
export const runBrowserTests = chromiumInstalled || process.env.PIXELFIND_REQUIRE_SERVICES === '1';
if (!runBrowserTests) {
  console.warn(`[tests] no Chromium at ${CHROMIUM_PATH}: the web app's browser tests are skipped`);
}

export interface TestBrowser {
  context: BrowserContext;
  /** URLs the page tried to fetch from anywhere but `allowedOrigin`: all were refused. */
  outside: string[];
  close(): Promise<void>;
}

export async function launchBrowser(allowedOrigin: string): Promise<TestBrowser> {
  if (!chromiumInstalled) {
    throw new Error(
      `Chromium is not at ${CHROMIUM_PATH}: install it with \`apt-get install -y chromium\` (or \`npm run setup -- --test\`)`,
    );
  }
  const profile = await mkdtemp(path.join(tmpdir(), 'pixelfind-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 800 },
  });
  const outside: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${allowedOrigin}/`) || url.startsWith('data:') || url.startsWith('blob:')) {
      return route.continue();
    }
    outside.push(url);
    return route.abort('blockedbyclient');
  });
  return {
    context,
    outside,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
