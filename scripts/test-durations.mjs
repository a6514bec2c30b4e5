#!/usr/bin/env node
// Write test/durations.json (the start order of test files, test/sequencer.ts) from a vitest JSON report of a full
// `npm test`:  npm test -- --reporter=default --reporter=json --outputFile.json=/tmp/v.json
//              node scripts/test-durations.mjs /tmp/v.json ["what was measured"]
import { readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';

const [report, note = ''] = process.argv.slice(2);
if (!report) {
  console.error('usage: node scripts/test-durations.mjs VITEST-JSON-REPORT ["note"]');
  process.exit(2);
}
const ROOT = resolve(import.meta.dirname, '..');
const r = JSON.parse(readFileSync(report, 'utf8'));
const files = {};
for (const f of r.testResults) files[relative(ROOT, f.name)] = Math.max(0.1, Math.round((f.endTime - f.startTime) / 100) / 10);
const sorted = Object.fromEntries(Object.entries(files).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
writeFileSync(resolve(ROOT, 'test/durations.json'), `${JSON.stringify({ note, files: sorted }, null, 1)}\n`);
console.log(`test/durations.json: ${Object.keys(sorted).length} files`);
