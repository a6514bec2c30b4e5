// Failure artifacts: pcaps, a JSON dump of each namespace's state (link, addr, route, neigh, fdb, nft) and the resolved
// topology, written into the run's artifacts directory when a check fails, plus index.json saying what is there.
//
// Cost at scale: a state dump is three processes per namespace (`ip -d -batch`, `bridge`, `nft`); a failing 1,000-node
// run (2,001 namespaces) spent 502 s on them, and its node namespaces' tables grow with the node count (a dump of
// every namespace is O(N²) bytes). So a run with more than NS_CAP namespaces dumps NS_CAP of them: the segments' and
// router's namespaces, then those of the nodes (and their pods) that a failing check names, then the rest in topology
// order; index.json lists every namespace left out and why. A run of at most NS_CAP namespaces dumps every one, as
// before (index.json is the one new file).
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { CheckResult } from './types.ts';
import type { ResolvedTopology } from '../topology/resolved.ts';
import { nsExists } from '../runtime/netns/runtime.ts';
import { ipBatch, type BatchResult } from '../probe/kernel.ts';
import { pool, run } from '../util/exec.ts';

/** namespaces dumped at most (VXLAB_ARTIFACT_NAMESPACES overrides; 0: no limit) */
export const NS_CAP = 64;

export interface ArtifactIndex {
  /** the most namespaces dumped (null: no limit) */
  cap: number | null;
  /** namespaces whose state is in ns/NAME.json */
  dumped: string[];
  /** namespaces of the run that exist but were not dumped (over the cap), and why */
  leftOut: string[];
  leftOutReason?: string;
  /** the run's namespaces that no longer existed when the artifacts were written */
  missing: string[];
  files: string[];
}

function cap(): number {
  const v = process.env.VXLAB_ARTIFACT_NAMESPACES;
  if (v === undefined || v === '') return NS_CAP;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? (n === 0 ? Infinity : n) : NS_CAP;
}

/**
 * The order namespaces are dumped in when there are more than the cap: the segments' and the router's (shared by
 * everyone), then the nodes a failing result names in its message, diffs or details (a node's own namespace and its
 * pods'), then the rest in topology order. Names are matched as whole words (`node1` does not name `node12`).
 */
export function artifactOrder(t: ResolvedTopology, failing: Pick<CheckResult, 'message' | 'diffs' | 'details'>[]): { order: string[]; named: string[] } {
  const infra = [...t.segments.flatMap((s) => (s.ns ? [s.ns] : [])), ...(t.routerNs ? [t.routerNs] : [])];
  const byName = new Map(t.nodes.map((n) => [n.name, n]));
  const named = new Set<string>();
  for (const r of failing) {
    const text = [r.message ?? '', ...(r.diffs ?? []), r.details ?? ''].join('\n');
    for (const m of text.matchAll(/[A-Za-z0-9_.-]+/g)) if (byName.has(m[0])) named.add(m[0]);
  }
  const first = [...named].flatMap((n) => [byName.get(n)!.ns, ...byName.get(n)!.pods.map((p) => p.ns)]);
  const rest = t.nodes.flatMap((n) => [n.ns, ...n.pods.map((p) => p.ns)]);
  const order = [...new Set([...infra, ...first, ...rest])];
  return { order, named: [...named] };
}

/** Whether VXLAB_ARTIFACT_NAMESPACES was given (then it is obeyed even where the state dump would be skipped). */
export const capGiven = (): boolean => (process.env.VXLAB_ARTIFACT_NAMESPACES ?? '') !== '';

/**
 * On failure: pcaps, a state dump of the namespaces (all, up to the cap), the resolved topology and index.json, into
 * DIR. `noStateDump`: why no namespace is dumped this time (index.json says so; the pcaps and resolved topology are
 * still written) — `vxlab repro` when every expectation held: the failures are the ones the file documents.
 */
export async function writeArtifacts(t: ResolvedTopology, dir: string, files: string[], results: CheckResult[] = [], noStateDump?: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'resolved.json'), JSON.stringify(t, null, 2));
  const copied: string[] = [];
  for (const f of files) {
    if (!existsSync(f)) continue;
    copyFileSync(f, join(dir, basename(f)));
    copied.push(basename(f));
  }
  const limit = noStateDump ? 0 : cap();
  const failing = results.filter((r) => r.status === 'fail');
  const { order, named } = artifactOrder(t, failing);
  const live = order.filter(nsExists);
  const liveSet = new Set(live);
  const missing = order.filter((n) => !liveSet.has(n));
  const dumped = noStateDump ? [] : live.slice(0, limit);
  const leftOut = live.slice(dumped.length);
  mkdirSync(join(dir, 'ns'), { recursive: true });
  // three processes per namespace, entering only its network namespace: one `ip -d -batch` for the four ip tables,
  // `bridge` and `nft`. (Not the in-process reader of harness/probe/kernel.ts: it produces only the keys vxlab's
  // checks read — no qdisc, txqlen, bridge port state, address lifetimes — and an artifact is for a human debugging.)
  await pool(dumped, 8, async (ns) => {
    const dump: Record<string, unknown> = {};
    const keys = ['link', 'addr', 'route', 'neigh'] as const;
    const [ip, fdb, nft] = await Promise.all([
      ipBatch(ns, ['link show', 'addr show', 'route show table all', 'neigh show'], true).catch((e): BatchResult[] => keys.map(() => ({ error: String(e?.message ?? e) }))),
      run(['bridge', '-j', 'fdb', 'show'], { ns, netOnly: true, reject: false }),
      run(['nft', '-j', 'list', 'ruleset'], { ns, netOnly: true, reject: false }),
    ]);
    for (const [i, key] of keys.entries()) dump[key] = ip[i]!.json ?? ip[i]!.error;
    dump.fdb = safeJson(fdb.stdout || 'null');
    dump.nft = nft.exitCode === 0 ? safeJson(nft.stdout) : null;
    writeFileSync(join(dir, 'ns', `${ns}.json`), JSON.stringify(dump, null, 2));
  });
  const index: ArtifactIndex = {
    cap: noStateDump ? 0 : Number.isFinite(limit) ? limit : null,
    dumped,
    leftOut,
    ...(noStateDump && leftOut.length
      ? { leftOutReason: noStateDump }
      : leftOut.length
      ? { leftOutReason: `${live.length} namespaces, more than the cap of ${limit} (VXLAB_ARTIFACT_NAMESPACES): dumped the segments' and router's, then those of the nodes the failing checks name (${named.length ? named.slice(0, 20).join(', ') + (named.length > 20 ? `, … ${named.length} in all` : '') : 'none named'}), then the rest in topology order` }
      : {}),
    missing,
    files: ['resolved.json', ...copied],
  };
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index, null, 2));
  return dir;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
