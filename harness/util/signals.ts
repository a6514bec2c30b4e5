// SIGINT/SIGTERM as an AbortSignal. While installed, the signals do not kill the process: the work in flight stops,
// what this command created is torn down, and the command exits 130. Repeated signals during that teardown are
// absorbed (the teardown is bounded), so a second Ctrl-C cannot leave half a topology behind.
export interface Interrupt {
  signal: AbortSignal;
  /** which signal arrived, if any */
  readonly received: NodeJS.Signals | undefined;
  dispose(): void;
}

export function processInterrupt(): Interrupt {
  const ac = new AbortController();
  let received: NodeJS.Signals | undefined;
  const h = (sig: NodeJS.Signals) => {
    if (received) return;
    received = sig;
    ac.abort(sig);
  };
  process.on('SIGINT', h);
  process.on('SIGTERM', h);
  return {
    signal: ac.signal,
    get received() {
      return received;
    },
    dispose() {
      process.off('SIGINT', h);
      process.off('SIGTERM', h);
    },
  };
}
