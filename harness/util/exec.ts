// One place that runs external programs. Always an argument array (execa), never a shell string.
// Errors say which namespace, which command, the exit code, and what it printed.
import type { Options } from 'execa';

// execa (and its dependencies) is loaded on first use: commands that run no program (`vxlab validate`, `--help`) skip
// its import cost (npm run bench, row cli)
let execaMod: Promise<typeof import('execa')> | undefined;
export function loadExeca(): Promise<typeof import('execa')> {
  execaMod ??= import('execa');
  return execaMod;
}
import { currentSignal, InterruptedError } from './scope.ts';

export class CommandError extends Error {
  readonly code = 'VXLAB_COMMAND_FAILED';
  constructor(
    readonly argv: string[],
    readonly ns: string | undefined,
    readonly exitCode: number | undefined,
    readonly stdout: string,
    readonly stderr: string,
    readonly durationMs: number,
    readonly cause?: unknown,
  ) {
    const where = ns ? ` in netns ${ns}` : '';
    const out = [stderr.trim(), stdout.trim()].filter(Boolean).join('\n').slice(0, 4000);
    super(`command failed${where} (exit ${exitCode ?? 'signal'}, ${durationMs} ms): ${argv.join(' ')}${out ? `\n${out}` : ''}`);
    this.name = 'CommandError';
  }
  /** the network namespace the command ran in (undefined: the root namespace) */
  get namespace(): string | undefined {
    return this.ns;
  }
}

export interface RunOptions {
  /** run inside this network namespace (via `ip netns exec`) */
  ns?: string;
  /**
   * enter only the network namespace (`nsenter --net`), not a fresh mount namespace with /sys remounted as `ip -n` and
   * `ip netns exec` do: for readers that need no /sys (ip, bridge, sysctl, fping). With thousands of namespaces on the
   * host, copying the mount table per process is what a read costs (suites at 1,000 nodes).
   */
  netOnly?: boolean;
  input?: string;
  timeoutMs?: number;
  /** do not throw on non-zero exit; inspect exitCode instead */
  reject?: boolean;
  env?: Record<string, string>;
  cwd?: string;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  signal?: string;
}

/** argv for running `argv` inside `ns`. `ip -n` is used for ip/bridge (cheaper), `ip netns exec` otherwise. */
export function nsArgv(argv: string[], ns?: string, netOnly = false): string[] {
  if (!ns) return argv;
  if (netOnly) return ['nsenter', `--net=/var/run/netns/${ns}`, ...argv];
  if (argv[0] === 'ip') return ['ip', '-n', ns, ...argv.slice(1)];
  return ['ip', 'netns', 'exec', ns, ...argv];
}

export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const full = nsArgv(argv, opts.ns, opts.netOnly);
  // inside a run's work scope: nothing new starts once it is stopped, and what runs is killed when it stops
  const signal = currentSignal();
  if (signal?.aborted) throw new InterruptedError(signal.reason);
  const t0 = performance.now();
  const o: Options = {
    cancelSignal: signal,
    killSignal: signal ? 'SIGKILL' : 'SIGTERM',
    reject: false,
    input: opts.input,
    timeout: opts.timeoutMs ?? 60_000,
    env: opts.env,
    extendEnv: true,
    cwd: opts.cwd,
    stripFinalNewline: false,
  };
  const { execa } = await loadExeca();
  const r = await execa(full[0]!, full.slice(1), o);
  if (signal?.aborted) throw new InterruptedError(signal.reason);
  const durationMs = Math.round(performance.now() - t0);
  const res: RunResult = {
    exitCode: r.exitCode ?? -1,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    durationMs,
    timedOut: Boolean(r.timedOut),
    signal: r.signal ?? undefined,
  };
  if (r.failed && opts.reject !== false) {
    throw new CommandError(full, opts.ns, r.exitCode, res.stdout, res.stderr, durationMs, r.cause);
  }
  return res;
}

/** Whether a process with this pid exists (signal 0; EPERM: it exists but is another user's). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Text without Node.js stack frames (and the source excerpt Node prints before an uncaught error): one story, no trace. */
export function stripStack(text: string): string {
  const lines = text.split('\n');
  const out = lines.filter((l) => !/^\s+at\s/.test(l) && !/^node:internal\//.test(l) && !/^\s*\^+\s*$/.test(l) && !/^\s*throw er; \/\/ Unhandled/.test(l) && !/^Node\.js v\d/.test(l));
  return out.join('\n').replace(/\n{2,}/g, '\n').trim();
}

/** `ip -j ...` inside a namespace, parsed. */
export async function ipJson<T = any>(ns: string | undefined, args: string[]): Promise<T> {
  const r = await run(['ip', '-j', ...args], { ns });
  const s = r.stdout.trim();
  return (s ? JSON.parse(s) : []) as T;
}

/** `bridge -j ...` inside a namespace, parsed. */
export async function bridgeJson<T = any>(ns: string | undefined, args: string[]): Promise<T> {
  const r = await run(['bridge', ...(ns ? ['-n', ns] : []), '-j', ...args]);
  const s = r.stdout.trim();
  return (s ? JSON.parse(s) : []) as T;
}

/** Run async tasks with bounded concurrency; results in input order. */
export async function pool<T, R>(items: T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return out;
}
