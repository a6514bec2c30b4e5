// Headless Chromium (Debian's `chromium`, installed by .ci/run and scripts/bootstrap.sh) driven by playwright-core.
// No browser download: playwright-core uses the system binary. Every launch gets a fresh profile directory
// (playwright takes it as launchPersistentContext's userDataDir) and the flags that keep Chromium off the network.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

// Debian's chromium first; Google Chrome where it is what the machine has (GitHub's Ubuntu runners, where apt's
// chromium is only a snap); VXLAB_CHROMIUM overrides.
const CANDIDATES = process.env.VXLAB_CHROMIUM ? [process.env.VXLAB_CHROMIUM] : ['/usr/bin/chromium', '/usr/bin/google-chrome'];
export const CHROMIUM = CANDIDATES.find((p) => existsSync(p)) ?? CANDIDATES[0]!;
export const hasChromium = existsSync(CHROMIUM);

if (!hasChromium && process.env.CI === 'true') {
  throw new Error(`browser tests must run in CI (CI=true): ${CANDIDATES.join(' / ')} missing (apt-get install chromium)`);
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export type Browser = BrowserContext & { [Symbol.asyncDispose](): Promise<void> };

/** A browser context on a fresh profile; `await using` closes it and removes the profile. */
export async function launch(viewport = { width: 1400, height: 1000 }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'vxlab-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport });
  return Object.assign(ctx, {
    async [Symbol.asyncDispose]() {
      await ctx.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  });
}

/** A whole-page screenshot: the viewport grows to the page's height first (this Chromium hangs on fullPage). */
export async function screenshotPage(page: import('playwright-core').Page, path: string, maxHeight = 6000): Promise<void> {
  const { w, h } = await page.evaluate(`({ w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight })`) as { w: number; h: number };
  const vp = page.viewportSize()!;
  await page.setViewportSize({ width: Math.max(vp.width, Math.min(w, 2400)), height: Math.min(h, maxHeight) });
  await page.screenshot({ path });
  await page.setViewportSize(vp);
}
