// Mid-run faults the checks did not cause: a node's namespace vanished, a userspace VTEP exited. Found by looking
// (namespace names, recorded processes) and reported once, by name — instead of as a crashed check per probe or as
// failed pings many seconds later.
import { constants } from 'node:os';
import type { ResolvedTopology } from '../topology/resolved.ts';
import { isAlive, type RunState } from '../runtime/state.ts';
import { NETNS_DIR, nsExists } from '../runtime/netns/runtime.ts';
import { readdirSync, statSync } from 'node:fs';
import { vtepExits } from '../runtime/vtep-launch.ts';
import { SETUP_STEP_WHAT, SETUP_WHAT } from '../overlay/external.ts';

export interface HealthProblem {
  /** what it concerns, e.g. "node u2" */
  subject: string;
  message: string;
}

/** Which part of the topology a namespace is. */
function nsLabel(t: ResolvedTopology, ns: string): string {
  for (const s of t.segments) if (s.ns === ns) return `segment ${s.name}'s namespace ${ns}`;
  if (t.routerNs === ns) return `the router namespace ${ns}`;
  for (const n of t.nodes) {
    if (n.ns === ns) return `node ${n.name}'s namespace ${ns}`;
    for (const p of n.pods) if (p.ns === ns) return `pod ${n.name}/${p.name}'s namespace ${ns}`;
  }
  return `namespace ${ns}`;
}

function exitText(pid: number): string {
  const e = vtepExits.get(pid);
  if (!e) return `is no longer running (pid ${pid})`;
  return e.signal ? `exited (signal ${osSignal(e.signal)})` : `exited (code ${e.code})`;
}

function osSignal(sig: NodeJS.Signals): string {
  const n = (constants.signals as Record<string, number>)[sig];
  return n ? `${n}, ${sig}` : sig;
}

let last: { mtimeMs: number; names: Set<string> } | undefined;
/**
 * The names in /var/run/netns, listed again only when the directory changed (its mtime: a name added or removed):
 * a listing of 2,000 bind-mounted names is itself ~3 ms at load 10, and the runner asks 8 times a second.
 */
function listing(): Set<string> | undefined {
  try {
    const m = statSync(NETNS_DIR).mtimeMs;
    if (last?.mtimeMs !== m) last = { mtimeMs: m, names: new Set(readdirSync(NETNS_DIR)) };
    return last.names;
  } catch {
    return undefined;
  }
}

/** What is wrong with a live run right now (empty: nothing). `when` ends each message, e.g. "during the run". */
export function healthProblems(t: ResolvedTopology, state: RunState, when = 'during the run'): HealthProblem[] {
  const out: HealthProblem[] = [];
  // one listing of the namespace directory instead of a lookup per name: the runner asks every 250 ms per lane, and at
  // 1,000 nodes 2,000 lookups of bind-mounted names were 14 s of a run's CPU (#16, profiled at load ~10); a name the
  // listing lacks is looked up once more by itself before it is called vanished
  const listed = state.namespaces.length > 16 ? listing() : undefined;
  for (const ns of state.namespaces) {
    if (listed?.has(ns)) continue;
    if (!nsExists(ns)) out.push({ subject: ns, message: `${nsLabel(t, ns)} vanished ${when}` });
  }
  for (const p of state.processes) {
    // builder: external — a setup step is meant to exit, and a setup daemon that exited is judged after the suites
    // by setup/daemons (with its last output): neither stops the checks, which judge the kernel state it left
    if (p.what.startsWith(SETUP_STEP_WHAT) || p.what.startsWith(SETUP_WHAT)) continue;
    if (isAlive(p.pid, p.startTime)) continue;
    const node = t.nodes.find((n) => n.ns === p.ns);
    const what = /VTEP/i.test(p.what) && node ? `node ${node.name}'s VTEP process` : p.what;
    out.push({ subject: what, message: `${what} ${exitText(p.pid)} ${when}` });
  }
  return out;
}
