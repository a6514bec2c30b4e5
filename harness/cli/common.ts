// Shared CLI plumbing: loading a topology for a command, run ids, exit codes, error rendering.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadTopology, locateSemantic } from '../topology/load.ts';
import { normalize, RUN_ID_RE } from '../topology/normalize.ts';
import type { ResolvedTopology } from '../topology/resolved.ts';
import { TopologyError } from '../topology/errors.ts';
import { SemanticError } from '../topology/errors.ts';

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

export class UsageError extends Error {
  readonly code = 'VXLAB_USAGE';
}

export const DEFAULT_TOPOLOGY = fileURLToPath(new URL('../../topologies/flannel-3node.yaml', import.meta.url));

/** The default run id is derived from the file's path, so up/status/exec/down on the same file find the same run. */
export function defaultRunId(file: string): string {
  return `f${createHash('sha256').update(file).digest('hex').slice(0, 5)}`;
}

export function randomRunId(): string {
  return `r${Math.random().toString(36).slice(2, 7).replace(/[^a-z0-9]/g, '0')}`;
}

export function pickRunId(file: string, given?: string, ephemeral = false): string {
  const id = given ?? process.env.VXLAB_RUN_ID ?? (ephemeral ? randomRunId() : defaultRunId(file));
  if (!RUN_ID_RE.test(id)) throw new UsageError(`--run-id '${id}': expected 1–8 characters of [a-z0-9]`);
  return id;
}

export function resolveTopology(file: string, runId: string): ResolvedTopology {
  if (!existsSync(file)) throw new UsageError(`topology file not found: ${file}`);
  const loaded = loadTopology(file);
  try {
    return normalize(loaded.topology, { runId, file: loaded.file });
  } catch (e) {
    throw locateSemantic(loaded, e);
  }
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    const e = new PreflightError('vxlab needs root: it creates network namespaces, veths and vxlan devices (run it with sudo).');
    throw e;
  }
}

export class PreflightError extends Error {
  readonly code = 'VXLAB_PREFLIGHT';
}

/** Render any error as the user should see it, and pick the exit code. No stack traces for expected errors. */
export function renderError(e: unknown): { text: string; exit: number } {
  if (e instanceof TopologyError) return { text: e.message, exit: EXIT.USAGE };
  if (e instanceof SemanticError) return { text: e.message, exit: EXIT.USAGE };
  if (e instanceof UsageError) return { text: `vxlab: ${e.message}`, exit: EXIT.USAGE };
  if (e instanceof PreflightError || (e as any)?.code === 'VXLAB_PREFLIGHT') return { text: `vxlab: ${(e as Error).message}`, exit: EXIT.PREFLIGHT };
  const err = e as any;
  if (err?.code === 'VXLAB_RUN_EXISTS' || err?.code === 'VXLAB_NOT_UP') return { text: `vxlab: ${err.message}`, exit: EXIT.STATE };
  if (err?.code === 'VXLAB_ABORTED') return { text: `vxlab: ${err.message}`, exit: EXIT.INTERRUPTED };
  if (err?.code === 'VXLAB_COMMAND_FAILED') return { text: `vxlab: ${err.message}`, exit: EXIT.FAIL };
  if (process.env.VXLAB_DEBUG) return { text: String(err?.stack ?? err), exit: EXIT.FAIL };
  return { text: `vxlab: ${err?.message ?? String(err)}`, exit: EXIT.FAIL };
}

/** An AbortSignal fired by SIGINT/SIGTERM, for rolling back a half-built topology. */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const h = () => ac.abort();
  process.on('SIGINT', h);
  process.on('SIGTERM', h);
  return {
    signal: ac.signal,
    dispose() {
      process.off('SIGINT', h);
      process.off('SIGTERM', h);
    },
  };
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
