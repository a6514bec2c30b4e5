// vxlab CLI: one file per command; this file only dispatches.
import { EXIT, renderError, survivePipeClose } from './exit.ts';
import { UsageError } from '../util/errors.ts';

export interface Command {
  summary: string;
  usage: string;
  help: string;
  main(argv: string[]): Promise<number>;
}

export const COMMANDS: Record<string, () => Promise<Command>> = {
  validate: async () => (await import('./validate.ts')).default,
  plan: async () => (await import('./plan.ts')).default,
  up: async () => (await import('./up.ts')).default,
  status: async () => (await import('./status.ts')).default,
  exec: async () => (await import('./exec.ts')).default,
  down: async () => (await import('./down.ts')).default,
  cleanup: async () => (await import('./cleanup.ts')).default,
  run: async () => (await import('./run.ts')).default,
  test: async () => (await import('./test.ts')).default,
  repro: async () => (await import('./repro.ts')).default,
  vtep: async () => (await import('./vtep.ts')).default,
  conformance: async () => (await import('./conformance.ts')).default,
  graph: async () => (await import('./graph.ts')).default,
};

/**
 * One-line summaries for `vxlab --help`, so that help does not load every command (and its dependencies): start-up
 * matters (npm run bench, row cli). A unit test keeps them equal to each command's own summary; a command missing
 * here is loaded to get it.
 */
export const SUMMARIES: Record<string, string> = {
  validate: 'check a topology file (schema + semantics); no kernel access',
  plan: "print every command 'up' would run, per namespace (dry run)",
  up: 'build the topology in network namespaces',
  status: 'show the nodes, pods, addresses and VTEPs of a running topology',
  exec: 'run a command inside a node or pod namespace (exit code passed through)',
  down: "remove exactly what 'up' created",
  cleanup: 'reap runs whose up/run process died mid-way (--all: every vxlab run)',
  run: 'up, run the suites, report, down (default: the shipped flannel-3node topology)',
  test: 'run the suites against a topology that is already up',
  repro: 'run a bug-reproduction file and check its expect: block',
  vtep: 'inspect a userspace VTEP: counters, drop reasons, FDB (vtep stats FILE NODE)',
  conformance: 'check a CNI plugin chain: the cni/* spec checks plus the network suites on pods it attaches',
  graph: 'draw a topology (SVG, DOT or Mermaid); with --run-id, its live state and what differs',
};

export const EXIT_CODES_HELP = `Exit codes:
  0    success (all checks passed / expectations held)
  1    a check failed, or a command inside a namespace failed
  2    bad input: usage error, malformed or inconsistent topology (file:line:col)
  3    preflight: not root, or missing host tools
  4    run state: the run is already up, or is not up
  130  interrupted (SIGINT/SIGTERM); what was created has been rolled back`;

/** `vxlab --help`. npm run build writes it to dist/cli/help.txt, which bin/vxlab.js prints without loading the CLI. */
export async function usage(): Promise<string> {
  const lines = ['vxlab — integration tests for VXLAN overlay pod networks', '', 'Usage: vxlab <command> [options]', '', 'Commands:'];
  for (const [name, load] of Object.entries(COMMANDS)) {
    try {
      lines.push(`  ${name.padEnd(12)} ${SUMMARIES[name] ?? (await load()).summary}`);
    } catch {
      /* command not built in this checkout */
    }
  }
  lines.push('', "Run 'vxlab <command> --help' for a command's options.", '', EXIT_CODES_HELP);
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  survivePipeClose();
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(await usage());
    return cmd ? EXIT.OK : EXIT.USAGE;
  }
  const load = COMMANDS[cmd];
  if (!load) {
    console.error(`vxlab: unknown command '${cmd}'; expected one of: ${Object.keys(COMMANDS).join(', ')}`);
    return EXIT.USAGE;
  }
  try {
    const c = await load();
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(`Usage: ${c.usage}\n\n${c.help}\n\n${EXIT_CODES_HELP}`);
      return EXIT.OK;
    }
    return await c.main(rest);
  } catch (e) {
    if ((e as any)?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || (e as any)?.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || (e as any)?.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      console.error(`vxlab ${cmd}: ${(e as Error).message}`);
      return EXIT.USAGE;
    }
    const r = renderError(e);
    console.error(r.text);
    return r.exit;
  }
}

export { UsageError };
