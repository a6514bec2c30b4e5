// tcpdump control: start a capture inside a network namespace, wait until it is really listening,
// stop it cleanly (draining what the kernel already handed over), and make sure no tcpdump process
// can outlive us.
//
// Leak protection, in layers:
//  1. every live capture is tracked; `process.on('exit')` SIGKILLs whatever is still running;
//  2. tcpdump is started through `setpriv --pdeathsig KILL` (when available), so the kernel kills it
//     if our process dies for any reason, SIGKILL included;
//  3. `-Z root` keeps tcpdump from switching uid, which would clear the parent-death signal (and
//     would stop it writing into root-owned directories);
//  4. handles are AsyncDisposable: `await using cap = await startCapture(...)`.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { decodePcap, type DecodeOptions, type PcapFile } from './pcap.ts';
import { currentSignal, InterruptedError } from '../util/scope.ts';

export interface CaptureOptions {
  /** network namespace to capture in (required: vxlab never captures in the root namespace) */
  ns: string;
  /** interface name inside `ns`, or 'any' */
  iface: string;
  /** output pcap path (written by tcpdump, as root) */
  file: string;
  /** BPF filter expression as argv words, e.g. ['udp', 'port', '4789'] */
  filter?: string[];
  /** -s: bytes per packet to keep */
  snaplen?: number;
  /** -y: data link type, e.g. 'LINUX_SLL' with iface 'any' */
  linkType?: string;
  /** --time-stamp-precision */
  timestampPrecision?: 'micro' | 'nano';
  /** deliver packets to tcpdump immediately (--immediate-mode). Default true. */
  immediate?: boolean;
  /** how long to wait for "listening on" (the wait ends as soon as it appears or tcpdump exits). Default 20000 ms: on a
   *  2-core machine at load average 30–40, tcpdump's start-up alone has taken more than 5 s. */
  readyTimeoutMs?: number;
  /** -B: the kernel capture buffer in KiB (one capture of many links at once needs more than the default 2 MiB) */
  bufferKiB?: number;
}

export interface StopOptions {
  /** how long to wait for tcpdump to catch up with packets the kernel already accepted. Default 2000 ms. */
  drainTimeoutMs?: number;
  /** how long to wait for exit after SIGINT before SIGKILL. Default 5000 ms. */
  exitTimeoutMs?: number;
}

export interface CaptureStats {
  packetsCaptured: number;
  packetsReceivedByFilter: number;
  packetsDroppedByKernel: number;
}

export interface CaptureResult extends Partial<CaptureStats> {
  file: string;
  /** tcpdump's exit code (null when it died from a signal) */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** true if it had to be SIGKILLed (stats and file tail may be missing) */
  killed: boolean;
  stderr: string;
}

export interface CaptureHandle extends AsyncDisposable {
  readonly file: string;
  readonly ns: string;
  readonly iface: string;
  readonly pid: number;
  /** argv that was executed */
  readonly argv: readonly string[];
  /** link type tcpdump reported, e.g. 'EN10MB', 'LINUX_SLL2' */
  readonly linkType: string | undefined;
  readonly snaplen: number | undefined;
  /** stop (idempotent: later calls return the same result) */
  stop(opts?: StopOptions): Promise<CaptureResult>;
  /** current counters via SIGUSR1 (tcpdump prints them on stderr) */
  stats(timeoutMs?: number): Promise<CaptureStats | undefined>;
}

export class CaptureError extends Error {
  readonly code = 'VXLAB_CAPTURE_FAILED';
  constructor(message: string, readonly argv: readonly string[], readonly stderr: string) {
    super(`${message}\n  command: ${argv.join(' ')}${stderr.trim() ? `\n  tcpdump stderr:\n    ${stderr.trim().split('\n').join('\n    ')}` : ''}`);
    this.name = 'CaptureError';
  }
}

// ---------------------------------------------------------------------------------------------
// Live process registry
// ---------------------------------------------------------------------------------------------

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' listeners do not change signal semantics (unlike SIGINT/SIGTERM listeners would);
  // signal deaths and SIGKILL are covered by the parent-death signal.
  process.on('exit', () => {
    for (const cp of live) {
      try {
        cp.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
    live.clear();
  });
}

/** pids of tcpdump processes started by this module that have not exited yet */
export function liveCapturePids(): number[] {
  return [...live].map((c) => c.pid!).filter((p) => p !== undefined);
}

/** kill every live capture right now (SIGKILL); for test teardown */
export function killAllCaptures(): void {
  for (const cp of live) cp.kill('SIGKILL');
}

let setprivPath: string | null | undefined;
function findSetpriv(): string | null {
  if (setprivPath === undefined) {
    setprivPath = ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv'].find((p) => existsSync(p)) ?? null;
  }
  return setprivPath;
}

// ---------------------------------------------------------------------------------------------
// Parsing of tcpdump's stderr
// ---------------------------------------------------------------------------------------------

const LISTENING_RE = /listening on (\S+), link-type (\S+)(?: \([^)]*\))?, snapshot length (\d+) bytes/;
const STATS_LINE_RE = /(\d+) packets? captured, (\d+) packets? received by filter, (\d+) packets? dropped by kernel/g;

/** parse the final statistics tcpdump prints on exit (three lines) */
export function parseFinalStats(stderr: string): CaptureStats | undefined {
  const c = /^(\d+) packets? captured$/m.exec(stderr);
  const r = /^(\d+) packets? received by filter$/m.exec(stderr);
  const d = /^(\d+) packets? dropped by kernel$/m.exec(stderr);
  if (!c || !r || !d) return undefined;
  return { packetsCaptured: Number(c[1]), packetsReceivedByFilter: Number(r[1]), packetsDroppedByKernel: Number(d[1]) };
}

function lastInfoStats(stderr: string): { stats: CaptureStats; count: number } | undefined {
  let m: RegExpExecArray | null;
  let last: CaptureStats | undefined;
  let count = 0;
  STATS_LINE_RE.lastIndex = 0;
  while ((m = STATS_LINE_RE.exec(stderr))) {
    count++;
    last = { packetsCaptured: Number(m[1]), packetsReceivedByFilter: Number(m[2]), packetsDroppedByKernel: Number(m[3]) };
  }
  return last ? { stats: last, count } : undefined;
}

// unref: a pending wait inside a race must not keep the process alive after the race is decided
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

// ---------------------------------------------------------------------------------------------
// startCapture
// ---------------------------------------------------------------------------------------------

export function captureArgv(o: CaptureOptions): string[] {
  const tcpdump = ['tcpdump', '-U', '-n', '-Z', 'root', '-i', o.iface, '-w', o.file];
  if (o.immediate !== false) tcpdump.push('--immediate-mode');
  if (o.snaplen !== undefined) tcpdump.push('-s', String(o.snaplen));
  if (o.linkType) tcpdump.push('-y', o.linkType);
  if (o.bufferKiB !== undefined) tcpdump.push('-B', String(o.bufferKiB));
  if (o.timestampPrecision) tcpdump.push(`--time-stamp-precision=${o.timestampPrecision}`);
  // '--' so that no filter word can ever be taken for an option
  if (o.filter?.length) tcpdump.push('--', ...o.filter);
  const sp = findSetpriv();
  const wrapped = sp ? [sp, '--pdeathsig', 'KILL', ...tcpdump] : tcpdump;
  return ['ip', 'netns', 'exec', o.ns, ...wrapped];
}

export async function startCapture(o: CaptureOptions): Promise<CaptureHandle> {
  if (!o.ns) throw new Error('startCapture: ns is required (vxlab does not capture in the root namespace)');
  if (!o.iface) throw new Error('startCapture: iface is required');
  if (!o.file) throw new Error('startCapture: file is required');
  for (const w of o.filter ?? []) {
    if (typeof w !== 'string') throw new Error('startCapture: filter must be an array of strings');
  }
  installExitHook();
  // inside a run's work scope: no capture starts once the run is stopped, and a running one is killed when it stops
  const signal = currentSignal();
  if (signal?.aborted) throw new InterruptedError(signal.reason);
  const argv = captureArgv(o);
  const readyTimeoutMs = o.readyTimeoutMs ?? 20_000;

  const cp = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], shell: false });
  live.add(cp);
  if (signal) {
    const onAbort = () => cp.kill('SIGKILL');
    signal.addEventListener('abort', onAbort, { once: true });
    cp.once('close', () => signal.removeEventListener('abort', onAbort));
  }
  let stderr = '';
  let exited = false;
  let exitCode: number | null = null;
  let exitSignal: NodeJS.Signals | null = null;
  let spawnError: Error | undefined;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  cp.stderr!.setEncoding('utf8');
  cp.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
    wake();
  });
  const exitedP = new Promise<void>((resolve) => {
    cp.on('error', (e) => {
      spawnError = e;
      // 'exit' may not follow a spawn failure
      if (cp.pid === undefined) {
        exited = true;
        live.delete(cp);
        resolve();
        wake();
      }
    });
    cp.on('close', (code, sig) => {
      exited = true;
      exitCode = code;
      exitSignal = sig;
      live.delete(cp);
      resolve();
      wake();
    });
  });

  /** wait until pred() or exit or timeout; true if pred() became true */
  const waitFor = async (pred: () => boolean, timeoutMs: number): Promise<boolean> => {
    if (pred()) return true;
    return new Promise<boolean>((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(t);
        waiters.delete(check);
        resolve(v);
      };
      const check = () => {
        if (pred()) done(true);
        else if (exited) done(false);
      };
      // at the bound, let pending I/O in first (two turns of the loop): after the event loop was busy (in-process reads
      // of 1,000 namespaces), the timer can fire before the poll phase has read the "listening on" already written
      const t = setTimeout(() => setImmediate(() => setImmediate(() => done(pred()))), timeoutMs);
      waiters.add(check);
      check();
    });
  };

  const killAndWait = async () => {
    if (!exited) cp.kill('SIGKILL');
    await Promise.race([exitedP, sleep(5000)]);
  };

  const ready = await waitFor(() => LISTENING_RE.test(stderr), readyTimeoutMs);
  if (!ready) {
    const why = spawnError
      ? `could not start: ${spawnError.message}`
      : exited
        ? `tcpdump exited (${exitSignal ?? `code ${exitCode}`}) before it was listening`
        : `tcpdump did not report "listening on" within ${readyTimeoutMs} ms`;
    await killAndWait();
    throw new CaptureError(`startCapture(ns=${o.ns}, iface=${o.iface}) failed: ${why}`, argv, stderr);
  }
  const m = LISTENING_RE.exec(stderr)!;
  const linkType = m[2];
  const snaplen = Number(m[3]);

  const stats = async (timeoutMs = 1000): Promise<CaptureStats | undefined> => {
    if (exited) return undefined;
    const before = lastInfoStats(stderr)?.count ?? 0;
    try {
      cp.kill('SIGUSR1');
    } catch {
      return undefined;
    }
    const ok = await waitFor(() => (lastInfoStats(stderr)?.count ?? 0) > before, timeoutMs);
    return ok ? lastInfoStats(stderr)!.stats : undefined;
  };

  let stopping: Promise<CaptureResult> | undefined;
  const doStop = async (so: StopOptions = {}): Promise<CaptureResult> => {
    const drainTimeoutMs = so.drainTimeoutMs ?? 2000;
    const exitTimeoutMs = so.exitTimeoutMs ?? 5000;
    // Drain: the kernel counts a packet as "received by filter" when it lands in the capture ring,
    // synchronously on the send/receive path. Wait until tcpdump has written all of those (or the
    // counters stop moving: on loopback libpcap drops outgoing duplicates in userspace).
    if (!exited && drainTimeoutMs > 0) {
      const deadline = Date.now() + drainTimeoutMs;
      let prev: CaptureStats | undefined;
      while (!exited && Date.now() < deadline) {
        const s = await stats(Math.max(1, deadline - Date.now()));
        if (!s) break;
        if (s.packetsCaptured + s.packetsDroppedByKernel >= s.packetsReceivedByFilter) break;
        if (prev && prev.packetsCaptured === s.packetsCaptured && prev.packetsReceivedByFilter === s.packetsReceivedByFilter) break;
        prev = s;
        await sleep(20);
      }
    }
    let killed = false;
    if (!exited) {
      cp.kill('SIGINT');
      await Promise.race([exitedP, sleep(exitTimeoutMs)]);
    }
    if (!exited) {
      killed = true;
      await killAndWait();
    }
    const fin = parseFinalStats(stderr);
    return { file: o.file, exitCode, signal: exitSignal, killed, stderr, ...(fin ?? {}) };
  };

  const handle: CaptureHandle = {
    file: o.file,
    ns: o.ns,
    iface: o.iface,
    pid: cp.pid!,
    argv,
    linkType,
    snaplen,
    stats,
    stop(so?: StopOptions) {
      stopping ??= doStop(so);
      return stopping;
    },
    async [Symbol.asyncDispose]() {
      await handle.stop();
    },
  };
  return handle;
}

/** Read and decode a pcap file. */
export async function readPcap(file: string, opts?: DecodeOptions): Promise<PcapFile> {
  const buf = await readFile(file);
  return decodePcap(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), opts);
}
