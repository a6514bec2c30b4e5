// The work scope of a run: an AbortSignal that reaches every probe, capture and helper process started under it,
// without threading a parameter through every suite. `run()`, tcpTransfer and startCapture read it: once it is
// aborted they start nothing new and kill what they started.
import { AsyncLocalStorage } from 'node:async_hooks';
import { setMaxListeners } from 'node:events';

export interface WorkScope {
  signal?: AbortSignal;
}

const als = new AsyncLocalStorage<WorkScope>();

/** Run fn with this scope; everything it awaits (and spawns) sees the signal. */
export function withScope<T>(scope: WorkScope, fn: () => Promise<T>): Promise<T> {
  // every probe, capture and helper started under the scope listens for its abort: dozens at once are normal, not a
  // leak (Node warns at 11 listeners on one AbortSignal)
  if (scope.signal) setMaxListeners(0, scope.signal);
  return als.run(scope, fn);
}

/** Run fn outside any scope: undo work (teardown, cleanup) must not be cancelled by the signal that stopped the run. */
export function outsideScope<T>(fn: () => Promise<T>): Promise<T> {
  return als.exit(fn);
}

export function currentSignal(): AbortSignal | undefined {
  return als.getStore()?.signal;
}

/** Work stopped because the scope's signal fired (SIGINT/SIGTERM, or a mid-run fault). */
export class InterruptedError extends Error {
  readonly code = 'VXLAB_INTERRUPTED';
  constructor(readonly reason: unknown) {
    super(`interrupted${reasonText(reason)}`);
    this.name = 'InterruptedError';
  }
}

export function reasonText(reason: unknown): string {
  if (typeof reason === 'string') return ` (${reason})`;
  if (reason instanceof Error && !(reason instanceof DOMException)) return ` (${reason.message})`;
  return '';
}

export function throwIfAborted(signal = currentSignal()): void {
  if (signal?.aborted) throw new InterruptedError(signal.reason);
}

/** A promise that rejects with InterruptedError when the signal fires (never settles otherwise). */
export function whenAborted(signal: AbortSignal): { promise: Promise<never>; dispose(): void } {
  let h: (() => void) | undefined;
  const promise = new Promise<never>((_, reject) => {
    if (signal.aborted) return reject(new InterruptedError(signal.reason));
    h = () => reject(new InterruptedError(signal.reason));
    signal.addEventListener('abort', h, { once: true });
  });
  promise.catch(() => {});
  return { promise, dispose: () => h && signal.removeEventListener('abort', h) };
}
