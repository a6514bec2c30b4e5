// Worker thread of the in-process state reader (#16, harness/probe/kernel.ts readInProcessShared): reads its share of
// the namespaces with readState (setns is per-thread: this thread enters each namespace itself and returns home) and
// posts each answer back as it is read, so the main thread reads the other share at the same time on another core.
// A namespace it cannot enter is posted back as `fallback` (the main thread reads it its own way); 'stop' ends it.
import { parentPort, workerData } from 'node:worker_threads';
import { readState, type ReadRequest } from './nl-dump-read.ts';
import { InNsError } from './inns.ts';

const jobs = (workerData as { jobs: { i: number; ns: string; req: ReadRequest }[] }).jobs;
let stopped = false;
parentPort!.on('message', (m: { type: string }) => {
  if (m.type === 'stop') stopped = true;
});
const turn = () => new Promise<void>((r) => setImmediate(r));

for (const { i, ns, req } of jobs) {
  if (stopped) break;
  try {
    parentPort!.postMessage({ type: 'read', i, r: readState(ns, req) });
  } catch (e) {
    parentPort!.postMessage(e instanceof InNsError ? { type: 'read', i, fallback: true } : { type: 'read', i, error: String((e as Error)?.message ?? e) });
  }
  // a turn of the loop between namespaces: a 'stop' is seen within one read
  await turn();
}
parentPort!.postMessage({ type: 'done' });
parentPort!.close();
