// Worker thread of the in-process ICMP prober (harness/probe/icmp.ts, echoProbeParallel): probes its share of the
// source pods with echoProbe (its own raw sockets, opened in each pod's namespace from this thread: setns is
// per-thread) and posts back which targets answered. A 'stop' message ends it at its next turn of the event loop;
// its sockets are closed on every way out.
import { parentPort, workerData } from 'node:worker_threads';
import { echoProbe, type EchoOptions } from './icmp.ts';
import { withScope } from '../util/scope.ts';

interface Job {
  nss: string[];
  ips: string[];
  targets: number[][];
  opts: Omit<EchoOptions, 'progress'>;
}

const job = workerData as Job;
const stop = new AbortController();
parentPort!.on('message', (m: { type: string }) => {
  if (m.type === 'stop') stop.abort('stopped');
});
withScope({ signal: stop.signal }, () => echoProbe(job.nss, job.ips, job.targets, { ...job.opts, progress: (msg) => parentPort!.postMessage({ type: 'progress', msg }) }))
  .then((r) => parentPort!.postMessage({ type: 'done', r }, r.alive.map((a) => a.buffer as ArrayBuffer)))
  .catch((e) => parentPort!.postMessage({ type: 'error', message: String(e?.message ?? e) }))
  .finally(() => parentPort!.close());
