// up / down / cleanup, for every runtime (harness/runtime/registry.ts). Every step is recorded before it happens;
// undo runs in reverse. The runtime creates segments and nodes and hands back namespaces; the rest is the same.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plan as makePlan, type Plan } from '../plan/plan.ts';
import { allPods, namespaces, type ResolvedTopology } from '../topology/resolved.ts';
import { refreshTopology } from '../topology/normalize.ts';
import { applyMode, createNamespaces, deleteNamespaces, nsExists, runOp } from './netns/runtime.ts';
import { getRuntime, runtimeNames } from './registry.ts';
import type { RuntimeContext } from './types.ts';
import { pool } from '../util/exec.ts';
import { isAlive, listStates, procStartTime, readState, removeState, writeState, type OwnedProcess, type RunState } from './state.ts';
import { startVtep } from './vtep-launch.ts';
import { killProcessesIn, NamespaceHold } from './netns/procs.ts';
import { outsideScope } from '../util/scope.ts';
import { runSetupStage, setupTeardownHook } from '../overlay/external.ts';
import { attachCni, cniTeardownHook, prepareCni, type PreparedCni } from '../overlay/cni-attach.ts';

export class RunExistsError extends Error {
  readonly code = 'VXLAB_RUN_EXISTS';
}
export class AbortedError extends Error {
  readonly code = 'VXLAB_ABORTED';
}

export interface UpOptions {
  ephemeral?: boolean;
  /** concurrent namespaces per stage */
  concurrency?: number;
  signal?: AbortSignal;
  onStage?: (name: string) => void;
  /** with overlay.cni: build namespaces and the node overlay only; the caller attaches pods (vxlab conformance) */
  skipCniAttach?: boolean;
  /** with overlay.cni: per plugin invocation (default 10 s) */
  cniTimeoutMs?: number;
}

export interface Running extends AsyncDisposable {
  topology: ResolvedTopology;
  state: RunState;
  plan: Plan;
  down(): Promise<void>;
}

export async function up(t: ResolvedTopology, opts: UpOptions = {}): Promise<Running> {
  const existing = readState(t.runId);
  if (existing) {
    throw new RunExistsError(`run ${t.runId} (${existing.topology}) is already ${existing.status}; use 'vxlab down' or another --run-id`);
  }
  // overlay.cni: the conflist and every plugin it names are checked before the host changes
  const cni: PreparedCni | undefined = t.cni ? await prepareCni(t.cni, `${t.file ?? t.name}: overlay.cni`) : undefined;
  const rt = getRuntime(t.runtime);
  await rt.prepare(t); // daemon reachable, images present: before the host changes
  const names = namespaces(t);
  const clash = names.filter(nsExists);
  if (clash.length) throw new RunExistsError(`namespaces already exist (not recorded by any run): ${clash.slice(0, 5).join(', ')}; run 'vxlab cleanup --all'`);
  const state: RunState = {
    version: 1,
    runId: t.runId,
    prefix: t.prefix,
    topology: t.name,
    file: t.file,
    pid: process.pid,
    pidStartTime: procStartTime(process.pid) ?? '',
    ephemeral: !!opts.ephemeral,
    status: 'creating',
    createdAt: new Date().toISOString(),
    namespaces: names,
    processes: [],
    workDir: mkdtempSync(join(tmpdir(), `${t.prefix}-`)),
    ...(t.runtime !== 'netns' ? { runtime: t.runtime, resources: [], discovered: {} } : {}),
  };
  writeState(state); // recorded before anything is created
  const check = () => {
    if (opts.signal?.aborted) throw new AbortedError('interrupted; rolled back');
  };
  const record = (proc: OwnedProcess) => {
    state.processes.push(proc);
    writeState(state);
  };
  const concurrency = opts.concurrency ?? Number(process.env.VXLAB_CONCURRENCY ?? 16);
  const ctx: RuntimeContext = {
    t,
    state,
    signal: opts.signal,
    concurrency,
    record: (r) => {
      (state.resources ??= []).push(r);
      writeState(state);
    },
    discover: (node, d) => {
      const all = (state.discovered ??= {});
      all[node] = { ...all[node], ...d };
      writeState(state);
    },
  };
  let p!: Plan;
  try {
    check();
    await rt.createUnderlay(ctx);
    check();
    await rt.createNodes(ctx);
    check();
    // what the runtime learned (kind: node IPs, pod CIDRs) decides the plan
    if (state.discovered && Object.values(state.discovered).some((d) => d.ip || d.podSubnet || d.underlayMac)) refreshTopology(t, state.discovered);
    p = makePlan(t);
    // applied in-process (netns/runtime.ts applyMode), a namespace's ops run synchronously on this thread: several
    // namespaces at once gain nothing and keep every one's generated lines alive together (peak RSS at 1,000 nodes:
    // 517 MB with 16, 196 MB with 1). Userspace VTEPs are processes started and waited for: those stages stay concurrent.
    const stageConcurrency = applyMode() === 'inproc' && !t.nodes.some((n) => n.vtep.kind === 'userspace') ? 1 : concurrency;
    await createNamespaces(allPods(t).map((x) => x.ns));
    for (const st of p.stages) {
      check();
      opts.onStage?.(st.name);
      if (st.setup) {
        await runSetupStage(st, { t, state, signal: opts.signal });
        continue;
      }
      await pool(st.steps, stageConcurrency, async (s) => {
        for (const op of s.ops) {
          check();
          if (op.kind === 'vtep') {
            const n = t.nodes.find((x) => x.name === op.node)!;
            await startVtep(t, n, state.workDir, state.ephemeral, record, opts.signal);
          } else if (op.kind !== 'setup') await runOp(s.ns, op);
        }
      });
    }
    if (cni && !opts.skipCniAttach) {
      check();
      opts.onStage?.('cni');
      await attachCni(t, state, cni, { timeoutMs: opts.cniTimeoutMs });
    }
    check();
    state.status = 'up';
    writeState(state);
  } catch (e) {
    await teardown(state);
    throw e;
  }
  const running: Running = {
    topology: t,
    state,
    plan: p,
    down: () => teardown(state),
    [Symbol.asyncDispose]: () => teardown(state),
  };
  return running;
}

async function killProcesses(procs: OwnedProcess[]): Promise<void> {
  for (const pr of procs) if (isAlive(pr.pid, pr.startTime)) try { process.kill(pr.pid, 'SIGTERM'); } catch {}
  const deadline = Date.now() + 3000;
  while (procs.some((pr) => isAlive(pr.pid, pr.startTime)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (const pr of procs) if (isAlive(pr.pid, pr.startTime)) try { process.kill(pr.pid, 'SIGKILL'); } catch {}
}

/**
 * Remove exactly what the state file records, in reverse order. Idempotent. Runs outside any work scope: the signal
 * that stopped a run must not stop its undo. Every process still inside the run's namespaces (probes, captures,
 * sinks, VTEPs — recorded or not, and any on its way in) is ended before the namespaces go, and again after.
 */
export function teardown(state: RunState): Promise<void> {
  return outsideScope(() => teardownNow(state));
}

async function teardownNow(state: RunState): Promise<void> {
  if (!readState(state.runId)) return;
  state.status = 'removing';
  writeState(state);
  const hooks = [...teardownHooks];
  for (const h of hooks) await h(state).catch(() => {});
  await killProcesses(state.processes);
  // held open until the last scan: a process that was on its way in (`ip netns exec NS`, past open(), before setns)
  // when we looked may enter after; the scan after deletion finds it by the inode we still hold (procs.ts)
  const hold = new NamespaceHold(state.namespaces);
  let left: string[];
  try {
    await killProcessesIn(state.namespaces, 3000, hold);
    left = await deleteNamespaces([...state.namespaces].reverse());
    await killProcessesIn(state.namespaces, 3000, hold);
  } finally {
    hold.close();
  }
  // containers, Docker networks, a kind cluster: after the names that pointed into them are gone
  const kept = await getRuntime(state.runtime).remove(state);
  if (left.length) throw new Error(`could not remove namespaces: ${left.join(', ')}`);
  if (kept.length) throw new Error(`could not remove: ${kept.join('; ')}`);
  rmSync(state.workDir, { recursive: true, force: true });
  removeState(state.runId);
}

/** Extra undo steps registered by other layers (e.g. CNI DEL before namespaces go). */
const teardownHooks: ((s: RunState) => Promise<void>)[] = [];
export function onTeardown(h: (s: RunState) => Promise<void>): void {
  teardownHooks.push(h);
}

// pods attached with CNI are DELed (in reverse order) before their namespaces go
onTeardown(cniTeardownHook);
// builder: external — setup daemons (and anything they forked) stop before the namespaces go
onTeardown(setupTeardownHook);

export async function downRun(runId: string): Promise<boolean> {
  const s = readState(runId);
  if (!s) return false;
  await teardown(s);
  return true;
}

export interface CleanupResult {
  removed: string[];
  kept: string[];
  orphanNamespaces: string[];
}

/** Reap runs whose owner died before finishing (or every run with all=true), plus unrecorded vx-* namespaces with all=true. */
export async function cleanup(all = false): Promise<CleanupResult> {
  const res: CleanupResult = { removed: [], kept: [], orphanNamespaces: [] };
  for (const s of listStates()) {
    const ownerAlive = isAlive(s.pid, s.pidStartTime);
    const dead = !ownerAlive && (s.ephemeral || s.status !== 'up');
    if (all || dead) {
      await teardown(s);
      res.removed.push(s.runId);
    } else res.kept.push(s.runId);
  }
  if (all) {
    // containers and networks of vxlab runs that no state file records (found by label)
    const live = new Set(listStates().map((s) => s.runId));
    for (const name of runtimeNames()) {
      const rt = getRuntime(name);
      const items = (await rt.leftovers().catch(() => [])).filter((l) => !live.has(l.runId));
      if (items.length) await rt.removeLeftovers(items);
    }
    const { readdirSync, existsSync } = await import('node:fs');
    const names = existsSync('/var/run/netns') ? readdirSync('/var/run/netns').filter((n) => /^vx-[a-z0-9]{1,8}-/.test(n)) : [];
    if (names.length) {
      await deleteNamespaces(names);
      res.orphanNamespaces = names;
    }
  }
  return res;
}
