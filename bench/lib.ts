// Helpers for bench/index.ts: statistics, aligned text tables, synthetic topologies, the naive baseline,
// and ownership tracking so that everything the bench creates is removed on error and on Ctrl-C.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { TopologySchema, type Topology } from '../harness/topology/schema.ts';
import { normalize } from '../harness/topology/normalize.ts';
import type { ResolvedTopology } from '../harness/topology/resolved.ts';
import type { Plan } from '../harness/plan/plan.ts';
import { run } from '../harness/util/exec.ts';
import { deleteNamespaces, NETNS_DIR } from '../harness/runtime/netns/runtime.ts';
import { downRun } from '../harness/runtime/lifecycle.ts';
import { readHostSysctl } from '../harness/util/host-sysctl.ts';

// ---------------------------------------------------------------- statistics

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function min(xs: number[]): number {
  return xs.length ? Math.min(...xs) : NaN;
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

export function fmtS(ms: number): string {
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '—';
}

export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r >= 10 ? r.toFixed(0) : r.toFixed(1)}×` : '—';
}

// ---------------------------------------------------------------- tables

/** An aligned text table: first column left-aligned, the others right-aligned unless `align` says otherwise. */
export function table(head: string[], rows: (string | number)[][], align?: ('l' | 'r')[]): string {
  const cells = [head, ...rows.map((r) => r.map((c) => String(c)))];
  const width = head.map((_, j) => Math.max(...cells.map((r) => [...(r[j] ?? '')].length)));
  const al = (j: number) => align?.[j] ?? (j === 0 ? 'l' : 'r');
  const pad = (s: string, j: number) => {
    const n = width[j]! - [...s].length;
    return al(j) === 'l' ? s + ' '.repeat(n) : ' '.repeat(n) + s;
  };
  const line = (r: string[]) => r.map((c, j) => pad(c, j)).join('  ').trimEnd();
  return [line(cells[0]!), width.map((w) => '─'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function section(title: string): string {
  return `\n== ${title} ${'='.repeat(Math.max(0, 76 - title.length))}`;
}

// ---------------------------------------------------------------- topologies

/** N nodes × `pods` pods, flannel layout, kernel VTEPs, one underlay segment. */
export function synthTopology(nodes: number, pods = 1, family: 'ipv4' | 'ipv6-dual-stack' = 'ipv4'): Topology {
  const v6 = family === 'ipv6-dual-stack';
  return TopologySchema.parse({
    name: v6 ? `bench6-${nodes}` : `bench${nodes}`,
    // ipv6-dual-stack: an IPv6 underlay and dual-stack pods (issue #11's bench row)
    underlay: { mtu: 1500, segments: [{ name: 'rack1', cidr: v6 ? 'fd00:0:1::/64' : '192.168.0.0/16' }] },
    overlay: { layout: 'flannel', vtep: 'kernel', vni: 1, port: 4789, ...(v6 ? { podCidr: ['10.244.0.0/16', 'fd00:10:244::/56'], nodeCidrSize: [24, 64] } : {}) },
    nodes: Array.from({ length: nodes }, (_, i) => ({ name: `n${i + 1}`, pods })),
  });
}

// ---------------------------------------------------------------- ownership

/** Every run id and namespace the bench creates is recorded here first; `reapAll` removes them. */
export class Owned {
  readonly runIds = new Set<string>();
  readonly naiveNamespaces = new Set<string>();

  newRunId(): string {
    for (let i = 0; i < 100; i++) {
      const id = `b${Math.random().toString(36).slice(2, 9).replace(/[^a-z0-9]/g, '0').padEnd(7, '0')}`;
      if (!this.runIds.has(id)) {
        this.runIds.add(id);
        return id;
      }
    }
    throw new Error('could not pick a fresh run id');
  }

  resolve(t: Topology, runId = this.newRunId(), file?: string): ResolvedTopology {
    return normalize(t, { runId, file });
  }

  /** Remove every recorded run (via its state file) and any namespace named after one of our run ids. Bounded, idempotent. */
  async reapAll(): Promise<string[]> {
    const problems: string[] = [];
    for (const id of this.runIds) await downRun(id).catch((e) => problems.push(`run ${id}: ${e?.message ?? e}`));
    const ours = existsSync(NETNS_DIR)
      ? readdirSync(NETNS_DIR).filter((n) => this.naiveNamespaces.has(n) || [...this.runIds].some((id) => n.startsWith(`vx-${id}-`)))
      : [];
    if (ours.length) {
      const left = await deleteNamespaces(ours);
      if (left.length) problems.push(`namespaces left: ${left.join(', ')}`);
    }
    this.naiveNamespaces.clear();
    return problems;
  }
}

export class Interrupted extends Error {
  readonly code = 'VXLAB_ABORTED';
  constructor() {
    super('interrupted');
  }
}

// ---------------------------------------------------------------- naive baseline

export interface NaiveCounts {
  /** processes the naive script starts for up (one per ip/bridge line, one per sysctl op, one per namespace) */
  upProcs: number;
  downProcs: number;
}

/** Count what `up()` batches: command lines, and processes it starts (ip -batch per op + 1 for namespaces). */
export function planCounts(p: Plan): { lines: number; batchedProcs: number; naive: NaiveCounts } {
  let lines = p.namespaces.length;
  let batched = 1;
  let naiveUp = p.namespaces.length;
  for (const st of p.stages)
    for (const s of st.steps)
      for (const op of s.ops) {
        if (op.kind === 'ip' || op.kind === 'bridge') {
          lines += op.lines.length;
          naiveUp += op.lines.length;
          if (op.lines.length) batched++;
        } else if (op.kind === 'sysctl') {
          lines += 1;
          naiveUp += 1;
          batched++;
        } else batched++;
      }
  return { lines, batchedProcs: batched, naive: { upProcs: naiveUp, downProcs: p.namespaces.length } };
}

/**
 * The same plan as a naive shell script would run it: `ip netns add` per namespace, then one `ip -n NS <line>`
 * / `bridge -n NS <line>` process per line and sysctl as-is, strictly sequential. Every namespace is recorded
 * in `owned` before it is created.
 */
export async function naiveUp(p: Plan, owned: Owned, check: () => void): Promise<void> {
  for (const ns of p.namespaces) {
    check();
    owned.naiveNamespaces.add(ns);
    await run(['ip', 'netns', 'add', ns]);
  }
  for (const st of p.stages)
    for (const s of st.steps)
      for (const op of s.ops) {
        switch (op.kind) {
          case 'ip':
          case 'bridge':
            for (const line of op.lines) {
              check();
              await run([op.kind, '-n', s.ns, ...line.split(/\s+/).filter(Boolean)]);
            }
            break;
          case 'sysctl':
            check();
            await run(['ip', 'netns', 'exec', s.ns, 'sysctl', '-qw', ...Object.entries(op.settings).map(([k, v]) => `${k}=${v}`)]);
            break;
          case 'vtep':
            throw new Error('the naive baseline covers kernel VTEPs only');
        }
      }
}

/** `ip netns del NS` per namespace, in reverse creation order. */
export async function naiveDown(p: Plan, owned: Owned): Promise<void> {
  for (const ns of [...p.namespaces].reverse()) {
    await run(['ip', 'netns', 'del', ns], { reject: false });
    owned.naiveNamespaces.delete(ns);
  }
}

// ---------------------------------------------------------------- kernel state

/**
 * Live network namespaces in the kernel, including ones already deleted from /var/run/netns whose cleanup is
 * still pending (the kernel frees namespaces asynchronously, in batches). Approximate: SLUB slab counts.
 */
export function netnsObjects(): number {
  try {
    const m = /^net_namespace\s+(\d+)/m.exec(readFileSync('/proc/slabinfo', 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

export const SETTLE_BOUND_MS = 30_000;

/**
 * Wait (bounded) until the kernel has freed namespaces down to `target` live objects, so that the next
 * measurement does not pay for this one's deferred cleanup. Returns the ms waited, or NaN if the bound was hit
 * (other processes on the host may be creating namespaces too) or the count is unavailable.
 */
export async function settle(target: number, signal?: AbortSignal, boundMs = SETTLE_BOUND_MS): Promise<number> {
  const a = performance.now();
  if (!Number.isFinite(target) || !Number.isFinite(netnsObjects())) return NaN;
  for (let i = 0; i < boundMs / 50; i++) {
    if (netnsObjects() <= target) return performance.now() - a;
    if (signal?.aborted) return NaN;
    await new Promise((r) => setTimeout(r, 50));
  }
  return NaN;
}

/** ARP table overflow counter (summed over CPUs): the neighbour table is shared by every namespace on the host. */
/** The host's ARP table limit that every namespace's dynamic entries count against together (NaN if unreadable). */
export function gcThresh3(): number {
  return Number(readHostSysctl('net.ipv4.neigh.default.gc_thresh3') ?? NaN);
}

export function arpTableFulls(): number {
  try {
    const lines = readFileSync('/proc/net/stat/arp_cache', 'utf8').trim().split('\n');
    const col = lines[0]!.trim().split(/\s+/).indexOf('table_fulls');
    if (col < 0) return NaN;
    return lines.slice(1).reduce((s, l) => s + parseInt(l.trim().split(/\s+/)[col]!, 16), 0);
  } catch {
    return NaN;
  }
}
