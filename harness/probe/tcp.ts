// A bounded TCP byte-count transfer between two namespaces: a sink counts bytes, a source sends exactly N.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run, stripStack } from '../util/exec.ts';
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
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

export async function tcpTransfer(srcNs: string, dstNs: string, dstIp: string, bytes: number, timeoutMs = 10_000, port = 5201): Promise<TransferResult> {
  const signal = currentSignal();
  if (signal?.aborted) throw new InterruptedError(signal.reason);
  // the sink dies with us (parent-death signal), even on SIGKILL; cleanup also ends every process in the run's namespaces
  const pdeath = SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL'] : [];
  const sink = spawn('ip', ['netns', 'exec', dstNs, ...pdeath, process.execPath, SINK, dstIp, String(port), String(timeoutMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const onAbort = () => sink.kill('SIGKILL');
  signal?.addEventListener('abort', onAbort, { once: true });
  let out = '';
  let err = '';
  sink.stdout.on('data', (d) => (out += d));
  sink.stderr.on('data', (d) => (err += d));
  const done = new Promise<void>((res) => sink.once('exit', () => res()));
  try {
    // wait until the sink listens (it prints "listening")
    const t0 = Date.now();
    while (!out.includes('listening') && Date.now() - t0 < 5000 && sink.exitCode === null) await new Promise((r) => setTimeout(r, 10));
    if (signal?.aborted) throw new InterruptedError(signal.reason);
    if (!out.includes('listening')) return { sent: 0, received: 0, connected: false, ms: 0, error: `sink did not start: ${oneLine(`${out}\n${err}`)}` };
    const t1 = performance.now();
    const r = await run([...pdeath, process.execPath, SOURCE, dstIp, String(port), String(bytes), String(timeoutMs)], { ns: srcNs, reject: false, timeoutMs: timeoutMs + 2000 });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((r2) => (timer = setTimeout(r2, timeoutMs)))]);
    clearTimeout(timer);
    const received = Number(/received (\d+)/.exec(out)?.[1] ?? 0);
    const sent = Number(/sent (\d+)/.exec(r.stdout)?.[1] ?? 0);
    const error = r.exitCode !== 0 ? `source: ${oneLine(r.stderr || r.stdout)}` : /error/.test(out) ? oneLine(out) : undefined;
    return { sent, received, connected: out.includes('accepted'), ms: Math.round(performance.now() - t1), error };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (sink.exitCode === null) sink.kill('SIGKILL');
  }
}

/** What went wrong, in one line: the error line of a helper's output, without any stack. */
function oneLine(text: string): string {
  const lines = stripStack(text).split('\n').map((l) => l.trim()).filter((l) => l && l !== 'listening');
  return lines.find((l) => /error/i.test(l)) ?? lines[0] ?? '(no output)';
}
