// Apply steps to a live run: vxlab plays the control plane the way flannel and felix reconcile (replace, not add;
// delete what belonged to a departed peer), unless `control:` turns on a real bug's behaviour. Each step is recorded in
// the state file before it changes anything; namespaces an add-node creates are recorded before they exist, so down
// and cleanup (also after a crash mid-step) remove exactly what any step created.
import { directRouteLine, overlayEntries, plan as makePlan, renderOp, vtepSysctls, vxlanLinkLine, type NsSteps, type Op } from '../plan/plan.ts';
import type { ResolvedNode, ResolvedTopology } from '../topology/resolved.ts';
import { allPods, routesDirect } from '../topology/resolved.ts';
import { applyMode, createNamespaces, deleteNamespaces, nsExists, runOp } from '../runtime/netns/runtime.ts';
import { parseBridgeLine, parseIpLine, type NlEntry } from '../runtime/netns/nl.ts';
import { writeState, type RunState } from '../runtime/state.ts';
import { pool } from '../util/exec.ts';
import { throwIfAborted } from '../util/scope.ts';
import type { CheckResult } from '../report/types.ts';
import type { SuiteDef } from '../runner/check.ts';
import { DEFAULT_CONTROL, stepId, type ResolvedStep, type StepRecord } from './types.ts';

/** One phase of a step: namespaces to delete or create, then per-namespace operations (concurrent). */
export interface StepPhase {
  what: string;
  deleteNs?: string[];
  createNs?: string[];
  steps: NsSteps[];
  /** the operations of one namespace touch different objects (FDB entry; neighbour and route): all run at once */
  independent?: boolean;
  /**
   * before this phase, this device must not exist: a departed node's underlay port, which the kernel deletes
   * asynchronously after its namespace went (a node re-added under the same name would collide with it)
   */
  waitGone?: { ns: string; dev: string };
}

/** A departed node as it was (its entries on peers are what a stale control plane leaves behind). */
export interface DepartedNode {
  name: string;
  step: number;
  mac: string;
  ip: string;
  vtepIp: string;
  podSubnet: string;
}

const replace = (l: string) => l.replace(/^(neigh|fdb|route) add /, '$1 replace ');

/** The entries peer `p` holds for node `r`, as the control plane writes them (replace: idempotent, updates in place). */
function entriesFor(t: ResolvedTopology, p: ResolvedNode, r: ResolvedNode, moreIp: string[] = []): Op[] {
  const e = overlayEntries({ ...t, nodes: [p, r] }, p);
  // at most two processes per peer (a peer's cost is process start-up; `ip` cannot write FDB entries, `bridge` cannot
  // write routes): the FDB entry, then neighbour, route and anything else of `ip` — every line a replace, so the end
  // state is flannel's (ARP, FDB, route) whatever the order
  return nonEmpty([
    { kind: 'bridge', lines: e.fdb.map(replace) },
    { kind: 'ip', lines: [...e.neigh.map(replace), ...e.routes.map(replace), ...moreIp] },
  ]);
}

/** A node's own VTEP as its agent builds it after a restart: the device recreated, then its entries for every peer. */
function rebuildVtep(t: ResolvedTopology, n: ResolvedNode, before: string[] = []): Op[] {
  const v = n.vtep;
  const e = overlayEntries(t, n);
  return [
    { kind: 'ip', lines: [...before, `link del ${v.dev}`, vxlanLinkLine(n), `addr add ${v.ip}/32 dev ${v.dev}`, `link set ${v.dev} up`, ...e.neigh] },
    { kind: 'bridge', lines: e.fdb },
    // replace: a direct route (routing modes) is on eth0 and outlived the device
    { kind: 'ip', lines: e.routes.map(replace) },
    // a recreated device starts from the kernel's defaults: the agent writes its device sysctls again (flannel: accept_ra)
    ...(Object.keys(vtepSysctls(t, n)).length ? [{ kind: 'sysctl', settings: vtepSysctls(t, n) } as Op] : []),
  ];
}

const nonEmpty = (ops: Op[]) => ops.filter((o) => !('lines' in o) || o.lines.length);
const node = (t: ResolvedTopology, name: string) => t.nodes.find((n) => n.name === name)!;

/**
 * What a step does, phase by phase (pure; printable with renderStepPlan), and the change of the expected state it
 * implies (`commit`, applied to the resolved topology once the phases ran). Check steps have no phases.
 */
export function planStep(t: ResolvedTopology, s: ResolvedStep): { phases: StepPhase[]; commit(): void } {
  const c = t.control ?? DEFAULT_CONTROL;
  switch (s.action) {
    case 'check':
      return { phases: [], commit() {} };
    case 'restart-node': {
      const n = node(t, s.node);
      const oldMac = n.vtep.mac;
      const mac = s.newMac ?? oldMac;
      const after: ResolvedNode = { ...n, vtep: { ...n.vtep, mac } };
      const t2 = { ...t, nodes: t.nodes.map((x) => (x === n ? after : x)) };
      const phases: StepPhase[] = [{ what: `${n.name} restarts: ${n.vtep.dev} recreated${mac !== oldMac ? ` with MAC ${mac}` : ''}`, steps: [{ ns: n.ns, ops: nonEmpty(rebuildVtep(t2, after)) }] }];
      if (mac !== oldMac && c.updateChangedMac) {
        phases.push({
          independent: true,
          what: `peers replace ${n.name}'s neighbour and FDB entry (MAC ${oldMac} → ${mac})`,
          // flannel's direct-routed peers hold no entry for the node (DirectRouting writes only the route)
          steps: t.nodes.filter((p) => p !== n && !(t.layout === 'flannel' && routesDirect(p, n))).map((p) => ({
            ns: p.ns,
            ops: [
              { kind: 'ip', lines: [`neigh replace ${n.vtep.ip} lladdr ${mac} dev ${p.vtep.dev} nud permanent`] },
              { kind: 'bridge', lines: [`fdb del ${oldMac} dev ${p.vtep.dev} dst ${n.ip} self`, `fdb replace ${mac} dev ${p.vtep.dev} dst ${n.ip} self permanent`] },
            ],
          })),
        });
      }
      return { phases, commit: () => void (n.vtep.mac = mac) };
    }
    case 'remove-node': {
      const r = node(t, s.node);
      const peers = t.nodes.filter((p) => p !== r);
      const phases: StepPhase[] = [{ what: `${r.name} leaves: its namespaces are deleted`, deleteNs: [...r.pods.map((p) => p.ns), r.ns], steps: [] }];
      const peerSteps = peers.map((p) => {
        const ip: string[] = [];
        const direct = routesDirect(p, r);
        // flannel DirectRouting: a direct-routed peer had only its route on eth0; felix had every VTEP's entries
        const entries = !(direct && t.layout === 'flannel');
        if (c.removeDepartedNeighbours && entries) ip.push(`neigh del ${r.vtep.ip} dev ${p.vtep.dev}`);
        const fdb = c.removeDepartedFdb && entries ? [`fdb del ${r.vtep.mac} dev ${p.vtep.dev} dst ${r.ip} self`] : [];
        const routes = c.removeDepartedRoutes ? [`route del ${r.podSubnet} dev ${direct ? p.underlayIf : p.vtep.dev}`] : [];
        // the underlay (not the control plane): a static neighbour for the departed address goes with it
        if (p.underlayNeighbours?.some(([a]) => a === r.ip)) routes.push(`neigh del ${r.ip} dev ${p.underlayIf}`);
        // two processes per peer: the FDB entry, then neighbour and route
        return { ns: p.ns, ops: nonEmpty([{ kind: 'bridge', lines: fdb }, { kind: 'ip', lines: [...ip, ...routes] }]) };
      });
      const kept = [!c.removeDepartedNeighbours && 'neighbour', !c.removeDepartedFdb && 'FDB entry', !c.removeDepartedRoutes && 'route'].filter(Boolean);
      if (peerSteps.some((x) => x.ops.length)) phases.push({ independent: true, what: `peers delete ${r.name}'s entries${kept.length ? ` (control: its ${kept.join(', ')} stay)` : ''}`, steps: peerSteps.filter((x) => x.ops.length) });
      return {
        phases,
        commit() {
          t.nodes = t.nodes.filter((x) => x !== r);
          for (const p of t.nodes) if (p.underlayNeighbours) p.underlayNeighbours = p.underlayNeighbours.filter(([a]) => a !== r.ip);
          (t.departed ??= []).push({ name: r.name, step: s.n, mac: r.vtep.mac, ip: r.ip, vtepIp: r.vtep.ip, podSubnet: r.podSubnet });
        },
      };
    }
    case 'add-node': {
      const r: ResolvedNode = structuredClone(s.node);
      const peers = t.nodes;
      const t2: ResolvedTopology = { ...t, nodes: [...peers, r] };
      const pl = makePlan(t2);
      const podNs = new Set(r.pods.map((p) => p.ns));
      const seg = t.segments.find((x) => x.name === r.segment)!;
      const under = pl.stages.find((x) => x.name === 'underlay')?.steps.find((x) => x.ns === seg.ns);
      const segLines = under ? under.ops.flatMap((o) => (o.kind === 'ip' ? o.lines.filter((l) => l.split(' ').includes(r.segIf)) : [])) : [];
      // a large segment's bridge knows its ports' MACs (static FDB entries): the new port's too
      const segFdb = under ? under.ops.flatMap((o) => (o.kind === 'bridge' ? o.lines.filter((l) => l.split(' ').includes(r.segIf)) : [])) : [];
      const nodeStep = pl.stages.find((x) => x.name === 'nodes')!.steps.find((x) => x.ns === r.ns)!;
      const podSteps = pl.stages.find((x) => x.name === 'pods')?.steps.filter((x) => podNs.has(x.ns)) ?? [];
      const phases: StepPhase[] = [
        { what: `${r.name} joins: namespaces, underlay link on ${seg.name}`, createNs: [r.ns, ...podNs], steps: segLines.length ? [{ ns: seg.ns!, ops: [{ kind: 'ip', lines: segLines }, ...(segFdb.length ? [{ kind: 'bridge' as const, lines: segFdb }] : [])] }] : [], ...(segLines.length ? { waitGone: { ns: seg.ns!, dev: r.segIf } } : {}) },
        { what: `${r.name}'s agent builds its VTEP and entries for ${peers.length} peers`, steps: [nodeStep] },
      ];
      if (podSteps.length) phases.push({ what: `${r.name}'s pods`, steps: podSteps });
      phases.push({
        independent: true,
        what: `peers learn ${r.name}`,
        steps: peers.map((p) => {
          // the underlay's static neighbour (large segments) goes into the same `ip` process
          const under = p.underlayNeighbours && p.segment === r.segment ? [`neigh replace ${r.ip} lladdr ${r.underlayMac} dev ${p.underlayIf} nud permanent`] : [];
          return { ns: p.ns, ops: entriesFor(t2, p, r, under) };
        }),
      });
      return {
        phases,
        commit() {
          for (const p of peers) if (p.underlayNeighbours && p.segment === r.segment) p.underlayNeighbours.push([r.ip, r.underlayMac]);
          t.nodes = [...t.nodes, r];
        },
      };
    }
    case 'change-node-ip': {
      const n = node(t, s.node);
      const old = n.ip;
      const after: ResolvedNode = { ...n, ip: s.ip };
      const t2 = { ...t, nodes: t.nodes.map((x) => (x === n ? after : x)) };
      // the old address goes first: deleting a primary address takes its secondaries with it (promote_secondaries=0)
      const addr = [`addr del ${old}/${n.prefixLen} dev ${n.underlayIf}`, `addr add ${s.ip}/${n.prefixLen} dev ${n.underlayIf}`];
      if (n.gateway) addr.push(`route replace default via ${n.gateway} dev ${n.underlayIf}`);
      const phases: StepPhase[] = [
        // the VTEP's `local` is the old address: the agent recreates the device (flannel does when attributes conflict)
        { what: `${n.name}'s address ${old} → ${s.ip}; its agent recreates ${n.vtep.dev} with local ${s.ip}`, steps: [{ ns: n.ns, ops: nonEmpty(rebuildVtep(t2, after, addr)) }] },
      ];
      const peerSteps = t.nodes.filter((p) => p !== n).map((p) => {
        const direct = routesDirect(p, n);
        const fdb = c.updateChangedIp && !(direct && t.layout === 'flannel') ? [`fdb replace ${n.vtep.mac} dev ${p.vtep.dev} dst ${s.ip} self permanent`] : [];
        // a direct route goes via the node's IP: the control plane points it at the new one
        const ip = c.updateChangedIp && direct ? [directRouteLine(t, p, after, n.podSubnet, 'replace')] : [];
        if (p.underlayNeighbours?.some(([a]) => a === old)) ip.push(`neigh del ${old} dev ${p.underlayIf}`, `neigh replace ${s.ip} lladdr ${n.underlayMac} dev ${p.underlayIf} nud permanent`);
        return { ns: p.ns, ops: nonEmpty([{ kind: 'bridge', lines: fdb }, { kind: 'ip', lines: ip }]) };
      }).filter((x) => x.ops.length);
      if (peerSteps.length) phases.push({ independent: true, what: `peers ${c.updateChangedIp ? `point ${n.name}'s FDB entry at ${s.ip}` : `keep ${n.name}'s FDB entry at ${old} (control: updateChangedIp false)`}`, steps: peerSteps });
      return {
        phases,
        commit() {
          n.ip = s.ip;
          for (const p of t.nodes) if (p.underlayNeighbours) p.underlayNeighbours = p.underlayNeighbours.map(([a, m]) => (a === old ? [s.ip, m] : [a, m]));
        },
      };
    }
  }
}

export function describeStep(s: ResolvedStep): string {
  switch (s.action) {
    case 'restart-node': return `restart-node ${s.node}${s.newMac ? ` (new MAC ${s.newMac})` : ''}`;
    case 'remove-node': return `remove-node ${s.node}`;
    case 'add-node': return `add-node ${s.node.name} (${s.node.ip}, pods ${s.node.podSubnet})`;
    case 'change-node-ip': return `change-node-ip ${s.node} → ${s.ip}`;
    case 'check': return `check ${s.check.join(', ')}${s.within ? ` within ${s.within}` : ''}`;
  }
}

/** `vxlab plan`: the steps as commands, after the plan of up. Pure: simulated on a copy of the topology. */
export function renderSteps(t0: ResolvedTopology): string {
  if (!t0.steps?.length) return '';
  const t: ResolvedTopology = structuredClone(t0);
  const out: string[] = [];
  for (const s of t.steps!) {
    out.push('', `# step ${s.n}: ${describeStep(s)}`);
    const { phases, commit } = planStep(t, s);
    for (const ph of phases) {
      out.push(`## ${ph.what}`);
      for (const ns of ph.deleteNs ?? []) out.push(`ip netns del ${ns}`);
      for (const ns of ph.createNs ?? []) out.push(`ip netns add ${ns}`);
      for (const st of ph.steps) for (const op of st.ops) out.push(...renderOp(st.ns, op));
    }
    if (s.action === 'check') out.push(`# vxlab runs ${s.check.join(', ')}${s.within ? `, retried until they pass or ${s.within} have passed` : ''}`);
    commit();
  }
  return out.join('\n') + '\n';
}

export interface StepRunOptions {
  workDir: string;
  signal?: AbortSignal;
  say?: (m: string) => void;
  onResult?: (r: CheckResult) => void;
  concurrency?: number;
  /** pause between attempts of a `within` check step (default 100 ms) */
  retryMs?: number;
}

export interface TimelineEntry {
  n: number;
  what: string;
  /** ms since the first step began */
  at: number;
  /** how long it took (actions: applied; checks: until they passed, or the deadline) */
  ms: number;
  attempts?: number;
  converged?: boolean;
  /** a check step that ended before its window because every failure was settled (settledFailures) */
  settled?: boolean;
}

/**
 * Whether a failing attempt of a `within:` check step is final: every failing check says why its failure cannot
 * change without a control plane's write (CheckResult.settled, e.g. routes/fdb on permanent entries). A failure
 * without that — connectivity (traffic: address resolution, DAD, loss), anything timing can change — keeps the
 * retries going to the window's end. Pure.
 */
export function settledFailures(results: Pick<CheckResult, 'status' | 'settled'>[]): boolean {
  const failed = results.filter((x) => x.status === 'fail');
  return failed.length > 0 && failed.every((x) => !!x.settled);
}

/** What a job of a phase runs, in order: netlink requests from this process, or an op as iproute2 and co. run it. */
type Unit = { entries: NlEntry[] } | { op: Exclude<Op, { kind: 'vtep' | 'setup' }> };

/**
 * An op as units (VXLAB_APPLY=inproc, the default): the `ip`/`bridge` lines nl.ts models (neighbours, FDB entries,
 * routes: the whole of a peer's reprogramming) become rtnetlink requests sent from this process, no process per
 * peer; a batch that begins with other lines (links, addresses of a node being built) goes up to its last such line
 * to runOp (up's executor: in-process too, for the forms nl-apply.ts models), and the rest after it, in the plan's order.
 */
function units(op: Op): Unit[] {
  if (op.kind !== 'ip' && op.kind !== 'bridge') return op.kind === 'vtep' || op.kind === 'setup' ? [] : [{ op }];
  const parse: (l: string) => NlEntry | undefined = op.kind === 'ip' ? parseIpLine : parseBridgeLine;
  const parsed = op.lines.map(parse);
  let k = parsed.length;
  while (k > 0 && parsed[k - 1]) k--;
  const out: Unit[] = [];
  if (k > 0) out.push({ op: { kind: op.kind, lines: op.lines.slice(0, k) } });
  if (k < parsed.length) out.push({ entries: parsed.slice(k) as NlEntry[] });
  return out;
}

/** Consecutive in-process units of one namespace as one (one setns, one socket). */
function merged(us: Unit[]): Unit[] {
  const out: Unit[] = [];
  for (const u of us) {
    const last = out[out.length - 1];
    if (last && 'entries' in last && 'entries' in u) out[out.length - 1] = { entries: [...last.entries, ...u.entries] };
    else out.push(u);
  }
  return out;
}

async function runPhase(ph: StepPhase, concurrency: number): Promise<void> {
  const procs = (st: NsSteps) => async () => {
    for (const op of st.ops) if (op.kind === 'ip' || op.kind === 'bridge' || op.kind === 'sysctl' || op.kind === 'ethtool') await runOp(st.ns, op);
  };
  if (applyMode() === 'processes') {
    // every process of every peer in one bounded pool (a step costs process start-ups, not their sum)
    const jobs = ph.independent ? ph.steps.flatMap((st) => st.ops.map((op) => ({ ns: st.ns, ops: [op] }))) : ph.steps;
    await pool(jobs, concurrency, (st) => procs(st)());
    return;
  }
  const { applyEntries } = await import('../runtime/netns/inns.ts');
  // a namespace's units in the plan's order; in an independent phase (a peer's entries: FDB, neighbour, route touch
  // different objects) what is left to processes runs alongside, one job per op
  const jobs = ph.steps.flatMap((st) => (ph.independent ? st.ops.map((op) => ({ ns: st.ns, us: units(op) })) : [{ ns: st.ns, us: st.ops.flatMap(units) }]));
  const inproc = new Map<string, NlEntry[]>();
  const rest: { ns: string; us: Unit[] }[] = [];
  for (const j of jobs) {
    if (ph.independent && j.us.every((u) => 'entries' in u)) inproc.set(j.ns, [...(inproc.get(j.ns) ?? []), ...j.us.flatMap((u) => ('entries' in u ? u.entries : []))]);
    else rest.push({ ns: j.ns, us: merged(j.us) });
  }
  const started = pool(rest, concurrency, async (j) => {
    for (const u of j.us) {
      if ('entries' in u) applyEntries(j.ns, u.entries);
      else await runOp(j.ns, u.op);
    }
  });
  // synchronous: the peers' entries are written while the processes above start
  let failed: unknown;
  try {
    for (const [ns, entries] of inproc) applyEntries(ns, entries);
  } catch (e) {
    failed = e;
  }
  await started.catch((e) => (failed ??= e));
  if (failed) throw failed;
}

/** Wait (at most 10 s) until DEV is gone from NS: only a node re-added under a departed node's name ever waits. */
async function waitGone(ns: string, dev: string, what: string): Promise<void> {
  const { devExists } = await import('../runtime/netns/inns.ts');
  const deadline = Date.now() + 10_000;
  while (devExists(ns, dev)) {
    if (Date.now() >= deadline) throw new Error(`${what}: ${dev} in ${ns} (a departed node's underlay port) is still there after 10 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Run one action step on a live run (recorded in the state file first), and move the expected state with it. */
export async function applyAction(t: ResolvedTopology, state: RunState, s: Exclude<ResolvedStep, { action: 'check' }>, concurrency = 16, onPhase?: (what: string, ms: number) => void): Promise<void> {
  const { phases, commit } = planStep(t, s);
  const rec: StepRecord = { n: s.n, action: s.action, node: s.action === 'add-node' ? s.node.name : s.node, status: 'applying' };
  const created = phases.flatMap((p) => p.createNs ?? []);
  if (created.length) {
    rec.created = created;
    for (const ns of created) if (!state.namespaces.includes(ns)) state.namespaces.push(ns);
  }
  (state.steps ??= []).push(rec);
  writeState(state); // before anything changes
  const inproc = applyMode() === 'inproc';
  for (const ph of phases) {
    const t0 = performance.now();
    if (ph.deleteNs?.length) {
      // inproc: umount + unlink as `ip netns del` does, no process; the kernel's teardown of the namespaces goes on
      // asynchronously and the peers' phase does not wait for it (nothing there depends on it)
      if (inproc) (await import('../runtime/netns/inns.ts')).delNetns(ph.deleteNs);
      const left = inproc ? ph.deleteNs.filter(nsExists) : await deleteNamespaces(ph.deleteNs);
      if (left.length) throw new Error(`step ${s.n} (${describeStep(s)}): could not delete namespaces ${left.join(', ')}`);
      state.namespaces = state.namespaces.filter((x) => !ph.deleteNs!.includes(x));
      rec.removed = [...(rec.removed ?? []), ...ph.deleteNs];
      writeState(state);
    }
    // in-process or by ip(8) per VXLAB_APPLY, as up creates them (one mechanism: runtime.ts createNamespaces)
    if (ph.createNs?.length) await createNamespaces(ph.createNs);
    if (ph.waitGone) await waitGone(ph.waitGone.ns, ph.waitGone.dev, `step ${s.n} (${describeStep(s)})`);
    try {
      await runPhase(ph, concurrency);
    } catch (e) {
      // name the node (or pod) whose namespace it was
      const owner = (s.action === 'add-node' ? [...t.nodes, s.node] : t.nodes).find((n) => (e as Error).message.includes(`netns ${n.ns}:`) || n.pods.some((p) => (e as Error).message.includes(`netns ${p.ns}:`)));
      if (owner && e instanceof Error) e.message = `step ${s.n} (${describeStep(s)}): ${owner.name}: ${e.message}`;
      throw e;
    }
    onPhase?.(ph.what, performance.now() - t0);
  }
  commit();
  rec.status = 'applied';
  writeState(state);
}

/** The suites (or single checks) a check step names, in the registry's order within each suite. */
async function selectChecks(names: string[]): Promise<SuiteDef[]> {
  // the suites and the runner are loaded when a check step runs: `vxlab plan` renders steps through this module and
  // must not load them (start-up, npm run bench row cli)
  const { SUITES } = await import('../../suites/index.ts');
  const out: SuiteDef[] = [];
  for (const name of names) {
    const suite = SUITES[name] ?? SUITES[name.split('/')[0]!];
    if (!suite) continue;
    let def = out.find((d) => d.name === suite.name);
    if (!def) out.push((def = { ...suite, checks: [] }));
    const want = SUITES[name] ? suite.checks : suite.checks.filter((c) => c.id === name);
    for (const c of want) if (!def.checks.includes(c)) def.checks.push(c);
  }
  return out;
}

/** Every step in order; results carry ids steps/N/… (action steps: steps/N/<action>; checks: steps/N/<check id>). */
export async function runSteps(t: ResolvedTopology, state: RunState, o: StepRunOptions): Promise<{ results: CheckResult[]; timeline: TimelineEntry[] }> {
  const results: CheckResult[] = [];
  const timeline: TimelineEntry[] = [];
  const t0 = performance.now();
  const push = (r: CheckResult) => {
    results.push(r);
    o.onResult?.(r);
  };
  for (const s of t.steps ?? []) {
    throwIfAborted(o.signal);
    const what = describeStep(s);
    o.say?.(`step ${s.n}: ${what}`);
    const start = performance.now();
    if (s.action !== 'check') {
      await applyAction(t, state, s, o.concurrency);
      const ms = performance.now() - start;
      timeline.push({ n: s.n, what, at: start - t0, ms });
      push({ id: stepId(s.n, s.action), suite: 'steps', title: `step ${s.n}: ${what}`, status: 'pass', message: `applied in ${fmtMs(ms)}`, durationMs: Math.round(ms) });
      continue;
    }
    const suites = await selectChecks(s.check);
    const deadline = start + (s.withinMs ?? 0);
    let attempts = 0;
    let last: CheckResult[] = [];
    let settled = false;
    for (;;) {
      attempts++;
      // every attempt observes afresh: runSuites starts from no run-level evidence (state snapshots, the matrix)
      const { runSuites } = await import('../runner/runner.ts');
      const r = await runSuites(t, suites, { workDir: o.workDir, signal: o.signal, onProgress: (m) => o.say?.(`step ${s.n} (attempt ${attempts}): ${m}`) });
      last = r.results;
      if (r.interrupted) throwIfAborted(o.signal);
      if (last.every((x) => x.status !== 'fail') || performance.now() >= deadline) break;
      // the window is for a control plane to converge in; in a steps run vxlab is the control plane (steps need
      // builder: vxlab) and applied every step before this one in full, so a failure that only a control plane's
      // write can change (CheckResult.settled) is this step's verdict now and at the window's end: not waited out
      if (settledFailures(last)) {
        settled = true;
        break;
      }
      await new Promise((res) => setTimeout(res, Math.min(o.retryMs ?? 100, Math.max(0, deadline - performance.now()))));
    }
    const ms = performance.now() - start;
    const converged = last.every((x) => x.status !== 'fail');
    timeline.push({ n: s.n, what, at: start - t0, ms, attempts, converged, ...(settled ? { settled: true } : {}) });
    const when = converged
      ? `${attempts === 1 ? 'on the first attempt' : `after ${attempts} attempts`}, ${fmtMs(ms)} after the step began${s.within ? ` (within ${s.within})` : ''}`
      : settled
        ? `did not converge: settled after ${attempts} attempt${attempts === 1 ? '' : 's'} (${fmtMs(ms)}), so the rest of the ${s.within} window was not waited — vxlab is this run's only control plane and applied the steps before this one in full; ${[...new Set(last.filter((x) => x.status === 'fail').map((x) => x.settled))].join('; ')}`
        : `${s.within ? `did not converge within ${s.within}` : 'run once'} (${attempts} attempt${attempts === 1 ? '' : 's'}, ${fmtMs(ms)})`;
    for (const r of last) push({ ...r, id: stepId(s.n, r.id), suite: stepId(s.n, r.suite), title: `step ${s.n}: ${r.title}`, message: `${r.message ?? r.status} — ${when}` });
  }
  return { results, timeline };
}

export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

export function renderTimeline(tl: TimelineEntry[]): string {
  return tl
    .map((e) => `  step ${String(e.n).padStart(2)}  +${fmtMs(e.at).padStart(8)}  ${e.what.padEnd(48)}  ${e.attempts === undefined ? `applied in ${fmtMs(e.ms)}` : e.converged ? `converged in ${fmtMs(e.ms)} (${e.attempts} attempt${e.attempts === 1 ? '' : 's'})` : e.settled ? `NOT converged, settled after ${fmtMs(e.ms)} (${e.attempts} attempt${e.attempts === 1 ? '' : 's'}; window not waited out)` : `NOT converged after ${fmtMs(e.ms)} (${e.attempts} attempt${e.attempts === 1 ? '' : 's'})`}`)
    .join('\n');
}

/** Step expectations as session-level keys: { routes/fdb: fail } of step 3 → steps/3/routes/fdb. */
export function stepExpectations(t: ResolvedTopology): Record<string, import('../topology/schema.ts').ExpectResult> {
  const out: Record<string, import('../topology/schema.ts').ExpectResult> = {};
  for (const s of t.steps ?? []) if (s.action === 'check') for (const [k, v] of Object.entries(s.expect)) out[stepId(s.n, k)] = v;
  return out;
}

