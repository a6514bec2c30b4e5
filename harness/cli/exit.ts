// Exit codes and error rendering: everything main.ts needs, without the topology loader (yaml, zod), so that
// `vxlab --help` starts fast.
import { SemanticError, TopologyError } from '../topology/errors.ts';
import { PreflightError, UsageError } from '../util/errors.ts';

export const EXIT = {
  OK: 0,
  /** checks failed, or a command inside a namespace failed */
  FAIL: 1,
  /** bad input: usage, malformed or inconsistent topology */
  USAGE: 2,
  /** preflight: not root, or missing host tools / kernel features */
  PREFLIGHT: 3,
  /** run state: already up, or not up */
  STATE: 4,
  INTERRUPTED: 130,
} as const;

/** Render any error as the user should see it, and pick the exit code. No stack traces for expected errors. */
export function renderError(e: unknown): { text: string; exit: number } {
  if (e instanceof TopologyError) return { text: e.message, exit: EXIT.USAGE };
  if (e instanceof SemanticError) return { text: e.message, exit: EXIT.USAGE };
  if (e instanceof UsageError) return { text: `vxlab: ${e.message}`, exit: EXIT.USAGE };
  // runtime errors (a daemon that cannot be reached, a missing image) carry the same code without the class
  if (e instanceof PreflightError || (e as any)?.code === 'VXLAB_PREFLIGHT') return { text: `vxlab: ${(e as Error).message}`, exit: EXIT.PREFLIGHT };
  const err = e as any;
  if (err?.code === 'VXLAB_RUN_EXISTS' || err?.code === 'VXLAB_NOT_UP') return { text: `vxlab: ${err.message}`, exit: EXIT.STATE };
  if (err?.code === 'VXLAB_ABORTED' || err?.code === 'VXLAB_INTERRUPTED') return { text: `vxlab: ${err.message}`, exit: EXIT.INTERRUPTED };
  if (err?.code === 'VXLAB_COMMAND_FAILED') return { text: `vxlab: ${err.message}`, exit: EXIT.FAIL };
  if (process.env.VXLAB_DEBUG) return { text: String(err?.stack ?? err), exit: EXIT.FAIL };
  return { text: `vxlab: ${err?.message ?? String(err)}`, exit: EXIT.FAIL };
}


/**
 * Every command survives a closed stdout/stderr (`vxlab conformance … | head`): a write to a pipe whose reader went
 * away is dropped instead of crashing the process, so the command still finishes — and still tears down what it built —
 * and exits with its own code.
 */
export function survivePipeClose(): void {
  for (const s of [process.stdout, process.stderr]) {
    if ((s as any).__vxlabEpipe) continue;
    (s as any).__vxlabEpipe = true;
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') return;
      throw e;
    });
  }
}
