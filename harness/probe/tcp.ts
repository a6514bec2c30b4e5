// A bounded TCP byte-count transfer between two namespaces: a sink counts bytes, a source sends exactly N.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nsArgv, run, stripStack } from '../util/exec.ts';
import { nsExists } from '../runtime/netns/runtime.ts';
import { currentSignal, InterruptedError } from '../util/scope.ts';

const SINK = fileURLToPath(new URL('./tcp-sink.mjs', import.meta.url));
const SOURCE = fileURLToPath(new URL('./tcp-source.mjs', import.meta.url));

export interface TransferResult {
  sent: number;
  received: number;
  /** the sink accepted the connection (the handshake's small packets got through) */
  connected: boolean;
  ms: number;
  error?: string;
  /** the probe itself failed (its sink never started): says nothing about the network */
  probeError?: boolean;
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/**
 * argv entering only `ns`'s network namespace. The sink and source need no /sys: `nsenter --net` skips what
 * `ip netns exec` does first (a private mount namespace, /sys remounted), which takes the kernel's mount lock and, next
 * to other runs creating and deleting namespaces by the hundred, held a sink's start-up past 20 s (the library at load
 * 17: a healthy pair reported as "never came up"). A namespace not under /var/run/netns goes through `ip netns exec`.
 */
function inNs(ns: string, argv: string[]): [string, string[]] {
  const full = nsArgv(argv, ns, nsExists(ns));
  return [full[0]!, full.slice(1)];
}

/** how long a sink may take to print "listening": the wait ends at the event, so the bound costs nothing when healthy */
const SINK_START_MS = 60_000;

/**
 * One TCP transfer of `bytes` from srcNs to dstIp:port (a sink in dstNs). Ends when the sink saw the connection close,
 * after `timeoutMs`, or — event-driven — once the connection is up and no data has arrived for `stallMs` (TCP's own
 * retransmissions back off 200 ms, 400 ms, 800 ms, …: a few of them without progress is a stall, not slowness).
 */
export async function tcpTransfer(srcNs: string, dstNs: string, dstIp: string, bytes: number, timeoutMs = 10_000, port = 5201, stallMs = 3000): Promise<TransferResult> {
  const signal = currentSignal();
  if (signal?.aborted) throw new InterruptedError(signal.reason);
  // the sink dies with us (parent-death signal), even on SIGKILL; cleanup also ends every process in the run's namespaces
  const pdeath = SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL'] : [];
  const sink = spawn(...inNs(dstNs, [...pdeath, process.execPath, SINK, dstIp, String(port), String(timeoutMs)]), { stdio: ['ignore', 'pipe', 'pipe'] });
  let source: ReturnType<typeof spawn> | undefined;
  const onAbort = () => {
    sink.kill('SIGKILL');
    source?.kill('SIGKILL');
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  let out = '';
  let err = '';
  sink.stdout.on('data', (d) => (out += d));
  sink.stderr.on('data', (d) => (err += d));
  // 'close', not 'exit': a child's stdout can still hold its last lines when it has exited ("accepted", "received N"),
  // and under load that read came after the verdict — a whole transfer reported as "never came up"
  const done = new Promise<void>((res) => sink.once('close', () => res()));
  try {
    // wait until the sink listens (it prints "listening") or exits; bounded by SINK_START_MS — a Node start-up has
    // taken more than 5 s at load average 30–40 on 2 cores (the wait ends at the event)
    const t0 = Date.now();
    while (!out.includes('listening') && Date.now() - t0 < SINK_START_MS && sink.exitCode === null) await new Promise((r) => setTimeout(r, 10));
    if (signal?.aborted) throw new InterruptedError(signal.reason);
    if (!out.includes('listening')) {
      const how = sink.exitCode !== null || sink.signalCode ? `it exited (${sink.signalCode ?? `code ${sink.exitCode}`})` : `not listening after ${SINK_START_MS / 1000} s`;
      return { sent: 0, received: 0, connected: false, ms: 0, probeError: true, error: `vxlab's TCP sink did not start in ${dstNs}: ${how}${out || err ? `: ${oneLine(`${out}\n${err}`)}` : ''}` };
    }
    const t1 = performance.now();
    // stall detection: once the connection is up, no new bytes at the sink for `stallMs` ends the probe (the sink
    // prints progress on data); a black hole is told apart from "never came up" by `connected`. The network is
    // blamed only on the kernel's word: the sender's socket retransmits (ss: retrans, backoff). No progress without
    // a retransmission is the machine, not the path (a sender or sink starved of CPU at load 20+ on 2 cores, a
    // receive window the sink has not yet drained): the window starts again, within the transfer's own timeout.
    let stalled = false;
    let stallEvidence = '';
    let seen = -1;
    let since = Date.now();
    let asking = false;
    const watch = setInterval(() => {
      if (!out.includes('accepted') || asking || stalled) return;
      const now = Number(/.*progress (\d+)/s.exec(out)?.[1] ?? 0);
      if (now !== seen) {
        seen = now;
        since = Date.now();
      } else if (Date.now() - since > stallMs) {
        asking = true;
        void senderRetransmits(srcNs, dstIp, port)
          .then((ev) => {
            if (ev && !stalled && Number(/.*progress (\d+)/s.exec(out)?.[1] ?? 0) === seen) {
              stalled = true;
              stallEvidence = ev;
              sink.kill('SIGKILL');
              source?.kill('SIGKILL');
            } else since = Date.now();
          })
          .finally(() => (asking = false));
      }
    }, 50);
    if (signal?.aborted) throw new InterruptedError(signal.reason);
    const r = await new Promise<{ exitCode: number; stdout: string; stderr: string }>((res) => {
      const p = (source = spawn(...inNs(srcNs, [...pdeath, process.execPath, SOURCE, dstIp, String(port), String(bytes), String(timeoutMs)]), { stdio: ['ignore', 'pipe', 'pipe'] }));
      let so = '';
      let se = '';
      p.stdout!.on('data', (d) => (so += d));
      p.stderr!.on('data', (d) => (se += d));
      const kill = setTimeout(() => p.kill('SIGKILL'), timeoutMs + 2000);
      p.once('close', (code) => {
        clearTimeout(kill);
        res({ exitCode: code ?? 1, stdout: so, stderr: se });
      });
    });
    let timer: NodeJS.Timeout | undefined;
    // a source that ended without the sink ever accepting (refused, unreachable, timed out): nothing more will come
    if (!out.includes('accepted') && r.exitCode !== 0) sink.kill('SIGKILL');
    await Promise.race([done, new Promise((r2) => (timer = setTimeout(r2, timeoutMs)))]);
    clearTimeout(timer);
    clearInterval(watch);
    if (signal?.aborted) throw new InterruptedError(signal.reason);
    if (stalled) {
      const received = Number(/.*progress (\d+)/s.exec(out)?.[1] ?? 0);
      return { sent: 0, received, connected: true, ms: Math.round(performance.now() - t1), error: `stalled: no data arrived for ${stallMs} ms after ${received} bytes while the sender retransmitted (${stallEvidence})` };
    }
    const received = Number(/received (\d+)/.exec(out)?.[1] ?? 0);
    const sent = Number(/sent (\d+)/.exec(r.stdout)?.[1] ?? 0);
    const error = r.exitCode !== 0 ? `source: ${oneLine(r.stderr || r.stdout)}` : /error/.test(out) ? oneLine(out) : undefined;
    return { sent, received, connected: out.includes('accepted'), ms: Math.round(performance.now() - t1), error };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (sink.exitCode === null) sink.kill('SIGKILL');
  }
}

/**
 * The sender's TCP socket to dst:port retransmitting, in the kernel's words (`ss -tin`: "retrans:0/3 backoff:2
 * unacked:12"), or undefined when it does not (or there is no such socket).
 */
export async function senderRetransmits(ns: string, dstIp: string, port: number): Promise<string | undefined> {
  const r = await run(['ss', '-H', '-tin', 'dst', dstIp, 'dport', '=', String(port)], { ns, netOnly: nsExists(ns), reject: false, timeoutMs: 10_000 });
  return retransEvidence(r.stdout);
}

/** Pure: retransmission evidence from `ss -tin` output (unit-tested). */
export function retransEvidence(ssOut: string): string | undefined {
  const total = Number(/\bretrans:\d+\/(\d+)/.exec(ssOut)?.[1] ?? 0);
  const backoff = Number(/\bbackoff:(\d+)/.exec(ssOut)?.[1] ?? 0);
  const unacked = Number(/\bunacked:(\d+)/.exec(ssOut)?.[1] ?? 0);
  // data in flight that is not acknowledged, and the retransmission timer at work; a zero window (a sink that does
  // not read) backs off its probes too, but with nothing unacknowledged
  if (!unacked || (!total && !backoff)) return undefined;
  return [`retrans ${total}`, ...(backoff ? [`backoff ${backoff}`] : []), `unacked ${unacked}`].join(', ');
}

/** What went wrong, in one line: the error line of a helper's output, without any stack. */
function oneLine(text: string): string {
  const lines = stripStack(text).split('\n').map((l) => l.trim()).filter((l) => l && l !== 'listening');
  return lines.find((l) => /error/i.test(l)) ?? lines[0] ?? '(no output)';
}
