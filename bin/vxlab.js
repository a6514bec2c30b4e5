#!/usr/bin/env node
// Entry point: registers tsx so the TypeScript sources run as-is, then hands over to the CLI.
import { register } from 'tsx/esm/api';
register();
// `vxlab status … | head`: a closed pipe ends the output, not the process with a stack trace
for (const s of [process.stdout, process.stderr]) s.on('error', (e) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); throw e; });
const { main } = await import('../harness/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
