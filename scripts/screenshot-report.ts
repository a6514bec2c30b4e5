// Screenshot an HTML report the way the README shows it: failing checks only (the filter a reader would click), the
// first failure open and the others folded, without the expectations and artifact lists; whole page, in headless
// Debian chromium. Usage: node --import tsx scripts/screenshot-report.ts REPORT.html OUT.png
import { pathToFileURL } from 'node:url';
import { launch, screenshotPage } from '../test/helpers/browser.ts';

const [html, png] = process.argv.slice(2);
if (!html || !png) {
  console.error('usage: screenshot-report.ts REPORT.html OUT.png');
  process.exit(2);
}
await using browser = await launch({ width: 1280, height: 900 });
const page = await browser.newPage();
await page.goto(pathToFileURL(html).href);
for (const s of ['pass', 'skip']) await page.locator(`#filters input[value=${s}]`).uncheck();
for (const id of ['#expectations', '#artifacts']) await page.locator(id).evaluate((el: any) => (el.style.display = 'none')).catch(() => {});
await page.locator('tbody.check.fail details').evaluateAll((els: any[]) => els.forEach((d, i) => (d.open = i === 0)));
await screenshotPage(page, png);
