// tcpdump inside a namespace, for tests that read its text output: `ready` resolves once tcpdump says it is listening
// (it prints "listening on …" after its filter is installed), instead of a fixed sleep that a loaded machine outlasts.
import { spawn, type ChildProcess } from 'node:child_process';

export interface Tcpdump {
  child: ChildProcess;
  /** what tcpdump printed on stdout so far */
  readonly out: string;
  /** resolves when the capture is live; rejects if tcpdump exits first or says nothing within `readyMs` */
  ready: Promise<void>;
  /** resolves when tcpdump exits (e.g. after -c N packets) */
  done: Promise<void>;
}

export function tcpdumpIn(ns: string, args: string[], readyMs = 15_000): Tcpdump {
  const child = spawn('ip', ['netns', 'exec', ns, 'tcpdump', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump in ${ns} not listening after ${readyMs} ms: ${err}`)), readyMs);
    child.stderr!.on('data', (d) => {
      err += d;
      if (/listening on /.test(err)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`tcpdump in ${ns} exited (${code ?? sig}) before listening: ${err}`));
    });
  });
  ready.catch(() => {}); // observed by the caller's await; never an unhandled rejection
  return {
    child,
    get out() {
      return out;
    },
    ready,
    done,
  };
}
