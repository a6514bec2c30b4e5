// The shared evidence of one run: what the connectivity matrix measured and what the captures saw, so that a later
// check judges an unreachable pair from what is already known instead of waiting out its own timeouts.
//
// Scope: one ResolvedTopology object = one run (the runner hands the same `t` to every suite), so the evidence lives
// in a WeakMap keyed by it and dies with the run. Suites keep their own per-suite memo (CheckContext.memo); this is
// the run-wide one.
import type { ResolvedNode, ResolvedPod, ResolvedTopology } from '../topology/resolved.ts';
import type { DecodedPacket } from '../capture/pcap.ts';

/** One packet a capture of this run saw on a node's underlay link. */
export interface CapturedAt {
  at: ResolvedNode;
  pkt: DecodedPacket;
  /** which probe captured it (e.g. 'encapsulation capture') */
  source: string;
}

/** What is known about a directed pod pair's reachability. */
export interface ReachFact {
  reachable: boolean;
  /** where it was learned, in words: 'connectivity matrix, 2 rounds (7 echo requests)' */
  source: string;
  /** the verdict is final (the matrix retried what could still change); false = one quick look */
  settled: boolean;
}

export interface RunEvidence {
  /** by `${srcIp}>${dstIp}` */
  reach: Map<string, ReachFact>;
  /** underlay packets seen by this run's captures */
  captured: CapturedAt[];
  /** directed node pairs `A>B` that a capture drove pod traffic over with both underlay links captured */
  drove: Set<string>;
  /** run-wide memo (e.g. the connectivity matrix, measured once whichever suite asks first) */
  memo: Map<string, Promise<unknown>>;
  /** facts held by a whole matrix (a 1,000-pod matrix is a million cells: looked up, not copied into `reach`) */
  tables: ((src: string, dst: string) => ReachFact | undefined)[];
}

const runs = new WeakMap<ResolvedTopology, RunEvidence>();

export function evidence(t: ResolvedTopology): RunEvidence {
  let e = runs.get(t);
  if (!e) runs.set(t, (e = { reach: new Map(), captured: [], drove: new Set(), memo: new Map(), tables: [] }));
  return e;
}

/** Forget what was observed of a run: the system changed under it (a step applied an action, a check step retries). */
export function resetEvidence(t: ResolvedTopology): void {
  runs.delete(t);
}

/** Compute `make` once per run, whichever check asks first; later askers share the answer. */
export function runMemo<T>(t: ResolvedTopology, key: string, make: () => Promise<T>): Promise<T> {
  const m = evidence(t).memo;
  if (!m.has(key)) {
    const p = make();
    // a failed computation is not cached: the next asker tries again (a stopped check must not poison later ones)
    p.catch(() => m.get(key) === p && m.delete(key));
    m.set(key, p);
  }
  return m.get(key) as Promise<T>;
}

export const reachKey = (src: { ip: string }, dst: { ip: string }) => `${src.ip}>${dst.ip}`;

/** Record a reachability fact. A settled fact is never overwritten by an unsettled one. */
export function recordReach(t: ResolvedTopology, src: { ip: string }, dst: { ip: string }, f: ReachFact): void {
  const m = evidence(t).reach;
  const k = reachKey(src, dst);
  const old = m.get(k);
  if (old?.settled && !f.settled) return;
  m.set(k, f);
}

/** Record a table of settled facts (a measured matrix): `lookup` answers for the pairs it measured, undefined otherwise. */
export function recordReachTable(t: ResolvedTopology, lookup: (src: string, dst: string) => ReachFact | undefined): void {
  evidence(t).tables.push(lookup);
}

export function knownReach(t: ResolvedTopology, src: { ip: string }, dst: { ip: string }): ReachFact | undefined {
  const e = evidence(t);
  const f = e.reach.get(reachKey(src, dst));
  if (f?.settled) return f;
  // the latest table that measured the pair, else the single (unsettled) fact
  for (let k = e.tables.length - 1; k >= 0; k--) {
    const x = e.tables[k]!(src.ip, dst.ip);
    if (x) return x;
  }
  return f;
}

export function recordCaptured(t: ResolvedTopology, xs: CapturedAt[], drove: [string, string][]): void {
  const e = evidence(t);
  for (const x of xs) e.captured.push(x);
  for (const [a, b] of drove) e.drove.add(`${a}>${b}`);
}

export const podName = (p: ResolvedPod) => `${p.node}/${p.name}`;
