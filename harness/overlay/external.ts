// builder: external — the overlay is programmed by someone else's control plane (flanneld, felix, your agent).
// vxlab runs its setup programs inside every node's namespace (argv, no shell), keeps their output, owns their
// processes (recorded in the state file, stopped at down), and afterwards reads each node's VTEP identity from the
// live node so the suites judge every peer's entries against what THAT peer announces.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Stage } from '../plan/plan.ts';
import type { ResolvedNode, ResolvedSetupStep, ResolvedTopology, VtepIdentity } from '../topology/resolved.ts';
import { canonicalIp, containsIp, hostAny, hostPrefix, parseAnyCidr } from '../topology/ip.ts';

const fam = (f: number) => `IPv${f}`;
import { procStartTime, writeState, isAlive, type OwnedProcess, type RunState } from '../runtime/state.ts';
import { ipJson, pool, run } from '../util/exec.ts';
import type { CheckResult } from '../report/types.ts';

/** What `what` of a setup daemon's process record starts with (status, teardown). */
export const SETUP_WHAT = 'setup daemon';
/** …and of a setup step that runs to completion (recorded too, so teardown sweeps its namespace) */
export const SETUP_STEP_WHAT = 'setup step';

export class SetupError extends Error {
  readonly code = 'VXLAB_SETUP_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'SetupError';
  }
}

/** The directory every node's setup programs share for this run (VXLAB_RUN_DIR); removed with the run. */
export function setupRunDir(workDir: string): string {
  return join(workDir, 'external');
}

export function setupLogDir(workDir: string): string {
  return join(workDir, 'setup');
}

export function setupLogPath(workDir: string, node: string, index: number): string {
  return join(setupLogDir(workDir), `setup-${node}-${index}.log`);
}

/** stdout/stderr of every setup program of the run (so a failed run keeps them as artifacts). */
export function setupLogs(workDir: string): string[] {
  const d = setupLogDir(workDir);
  return existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.log')).sort().map((f) => join(d, f)) : [];
}

/** The node's facts, as every setup program sees them. */
export function setupEnv(t: ResolvedTopology, n: ResolvedNode, runDir: string): Record<string, string> {
  return {
    VXLAB_NODE: n.name,
    VXLAB_NODE_IP: n.ip,
    // one per pod family, IPv4 first (dual-stack: two)
    VXLAB_POD_SUBNETS: n.podSubnets.join(','),
    VXLAB_VNI: String(n.vtep.vni),
    VXLAB_PORT: String(n.vtep.port),
    VXLAB_MTU: String(n.vtep.mtu),
    VXLAB_UNDERLAY_IF: n.underlayIf,
    VXLAB_PEERS: JSON.stringify(t.nodes.filter((o) => o !== n).map((o) => ({ name: o.name, ip: o.ip, podSubnets: o.podSubnets }))),
    VXLAB_LAYOUT: t.layout,
    VXLAB_RUN_ID: t.runId,
    VXLAB_RUN_DIR: runDir,
  };
}

function tail(file: string, lines = 20): string {
  try {
    const all = readFileSync(file, 'utf8').replace(/\n$/, '').split('\n');
    return all.slice(-lines).map((l) => `  | ${l}`).join('\n') || '  | (no output)';
  } catch {
    return '  | (no output)';
  }
}

/** On failure the run's work dir goes with the rollback: the logs are copied where the error can name them. */
function preserveLogs(t: ResolvedTopology, workDir: string): string | undefined {
  const src = setupLogDir(workDir);
  if (!existsSync(src)) return undefined;
  const dst = join(tmpdir(), `vxlab-setup-${t.name}-${t.runId}`);
  try {
    cpSync(src, dst, { recursive: true });
    return dst;
  } catch {
    return undefined;
  }
}

export interface SetupContext {
  t: ResolvedTopology;
  state: RunState;
  signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Run the setup stage: every node's programs at once (a node's steps in order), since an agent may wait for its
 * peers' announcements. Then every daemon must still be alive. Throws SetupError naming node, command and output.
 */
export async function runSetupStage(st: Stage, ctx: SetupContext): Promise<void> {
  const { t, state } = ctx;
  mkdirSync(setupRunDir(state.workDir), { recursive: true });
  mkdirSync(setupLogDir(state.workDir), { recursive: true });
  const failures: { i: number; e: unknown }[] = [];
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  ctx.signal?.addEventListener('abort', onAbort);
  try {
    await Promise.all(
      st.steps.map(async (s, si) => {
        const op = s.ops[0];
        if (op?.kind !== 'setup') return;
        const n = t.nodes.find((x) => x.name === op.node)!;
        try {
          for (const [i, step] of op.steps.entries()) {
            if (abort.signal.aborted) return;
            await runStep(ctx, n, step, i, op.cwd, abort.signal);
          }
        } catch (e) {
          failures.push({ i: si, e });
          abort.abort(); // the other nodes stop waiting: the run is rolled back
        }
      }),
    );
    if (ctx.signal?.aborted) throw Object.assign(new Error('interrupted during setup; rolled back'), { code: 'VXLAB_ABORTED' });
    if (failures.length) throw failures.sort((a, b) => a.i - b.i)[0]!.e;
    // a daemon that was ready and then died before every node was ready
    for (const pr of state.processes.filter((p) => p.what.startsWith(SETUP_WHAT))) {
      if (!isAlive(pr.pid, pr.startTime)) {
        throw setupFailure(ctx, `${pr.what.slice(SETUP_WHAT.length + 4)} exited during setup (before every node was ready)`, pr.log);
      }
    }
  } catch (e) {
    if (e instanceof SetupError) {
      const kept = preserveLogs(t, state.workDir);
      if (kept) e.message += `\nsetup logs of every node: ${kept}`;
    }
    throw e;
  } finally {
    ctx.signal?.removeEventListener('abort', onAbort);
  }
}

function setupFailure(ctx: SetupContext, what: string, log?: string): SetupError {
  return new SetupError(`setup failed: ${what}${log ? `\nlast output (${basename(log)}):\n${tail(log)}` : ''}`);
}

function describe(n: ResolvedNode, step: ResolvedSetupStep, i: number): string {
  return `${n.name}: setup[${i}] ${step.command.join(' ')}`;
}

async function runStep(ctx: SetupContext, n: ResolvedNode, step: ResolvedSetupStep, i: number, cwd: string, signal: AbortSignal): Promise<void> {
  const { t, state } = ctx;
  const log = setupLogPath(state.workDir, n.name, i);
  const env = { ...process.env, ...setupEnv(t, n, setupRunDir(state.workDir)) };
  const label = describe(n, step, i);
  // argv, no shell: `ip netns exec` enters the node's network namespace (and mounts its /sys) and execs the program;
  // in ephemeral runs (vxlab run) setpriv ties a daemon to vxlab, so it gets SIGTERM even if vxlab is SIGKILLed
  const inNs = ['ip', 'netns', 'exec', n.ns, ...step.command];
  const argv = step.daemon && state.ephemeral ? ['setpriv', '--pdeathsig', 'TERM', ...inNs] : inNs;
  // every program is recorded before it starts (pid and start time follow at once): if vxlab dies in between, or a
  // step leaves something running in the background, teardown still sweeps that node's namespace
  const rec: OwnedProcess = { pid: 0, startTime: '', ns: n.ns, what: `${step.daemon ? SETUP_WHAT : SETUP_STEP_WHAT} of ${label}`, log };
  state.processes.push(rec);
  writeState(state);
  const fd = openSync(log, 'a');
  let child: ChildProcess;
  try {
    child = spawn(argv[0]!, argv.slice(1), { cwd, env, stdio: ['ignore', fd, fd], detached: step.daemon && !state.ephemeral });
  } finally {
    closeSync(fd);
  }
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  child.once('exit', (code, sig) => (exit = { code, signal: sig }));
  child.once('error', (e) => (spawnError = e));
  if (child.pid) {
    rec.pid = child.pid;
    rec.startTime = procStartTime(child.pid) ?? '';
    writeState(state);
    if (step.daemon && !state.ephemeral) child.unref();
  }
  const exitText = () => (exit?.signal ? `killed by ${exit.signal}` : `exit ${exit?.code}`);

  if (!step.daemon) {
    const deadline = Date.now() + step.timeoutSec * 1000;
    while (!exit && !spawnError) {
      if (signal.aborted) {
        child.kill('SIGKILL');
        return;
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw setupFailure(ctx, `${label} did not finish within ${step.timeoutSec} s (killed)`, log);
      }
      await sleep(20);
    }
    if (spawnError) throw setupFailure(ctx, `${label} could not be started: ${spawnError.message}`, log);
    if (exit!.code !== 0) throw setupFailure(ctx, `${label} failed (${exitText()}; cwd ${cwd})`, log);
  } else await sleep(0);

  if (!step.ready) return;
  const ready = step.ready;
  const what = [ready.device && `device ${ready.device} exists`, ready.command && `'${ready.command.join(' ')}' exits 0`].filter(Boolean).join(' and ');
  const deadline = Date.now() + ready.timeoutSec * 1000;
  // polled with backoff (100 ms … 500 ms): a ready command is a process per poll
  for (let poll = 0; ; poll++) {
    if (signal.aborted) return;
    if (step.daemon && (exit || spawnError)) {
      throw setupFailure(ctx, `daemon ${label} ${spawnError ? `could not be started: ${spawnError.message}` : `exited (${exitText()}; cwd ${cwd})`} before it was ready (waiting until ${what})`, log);
    }
    let ok = true;
    if (ready.device) ok = (await run(['ip', '-n', n.ns, 'link', 'show', 'dev', ready.device], { reject: false, timeoutMs: 5000 })).exitCode === 0;
    if (ok && ready.command) {
      const r = await run(['ip', 'netns', 'exec', n.ns, ...ready.command], { reject: false, cwd, env: setupEnv(t, n, setupRunDir(state.workDir)), timeoutMs: Math.max(1000, Math.min(10_000, deadline - Date.now())) });
      ok = r.exitCode === 0;
    }
    if (ok) return;
    if (Date.now() > deadline) throw setupFailure(ctx, `${label} not ready after ${ready.timeoutSec} s (waiting until ${what})`, log);
    await sleep(Math.min(500, 100 * 1.5 ** poll));
  }
}

// --- after the suites: did every daemon stay up? ----------------------------------------------------------------

/**
 * `setup/daemons`: every setup daemon of the run is still running once the suites are done. A control plane that
 * crashed mid-run (on a pod event, a lease renewal …) leaves a stale overlay behind that the suites may still pass.
 * Undefined when the run has no setup daemons.
 */
export function daemonsResult(state: RunState): CheckResult | undefined {
  const ds = state.processes.filter((p) => p.what.startsWith(SETUP_WHAT));
  if (!ds.length) return undefined;
  const dead = ds.filter((p) => !isAlive(p.pid, p.startTime));
  const name = (p: OwnedProcess) => p.what.slice(SETUP_WHAT.length + 4);
  const base = { id: 'setup/daemons', suite: 'setup', title: 'every setup daemon (builder: external) is still running after the suites', durationMs: 0, expected: ds.map(name) };
  if (!dead.length) return { ...base, status: 'pass', message: `${ds.length} setup daemon${ds.length > 1 ? 's' : ''} running`, observed: ds.map(name) };
  const diffs = dead.map((p) => `${name(p)} exited during the run${p.log ? `; last output (${basename(p.log)}):\n${tail(p.log, 10)}` : ''}`);
  return { ...base, status: 'fail', message: `${dead.length} of ${ds.length} setup daemons exited during the run: ${dead.map(name).join('; ')}`, diffs, observed: ds.filter((p) => !dead.includes(p)).map(name) };
}

// --- teardown: setup daemons and anything they started --------------------------------------------------------

/**
 * Every process of vxlab's PID namespace still inside a network namespace where a setup program ran is the run's (a
 * daemon may fork helpers, or have been recorded before its pid was known): SIGTERM, up to 3 s, then SIGKILL. Runs before the recorded pids are
 * stopped and the namespaces deleted.
 */
export async function setupTeardownHook(s: RunState): Promise<void> {
  const nss = [...new Set(s.processes.filter((p) => p.what.startsWith(SETUP_WHAT) || p.what.startsWith(SETUP_STEP_WHAT)).map((p) => p.ns))];
  if (!nss.length) return;
  const pidsIn = async () => {
    const out: number[] = [];
    for (const ns of nss) {
      const r = await run(['ip', 'netns', 'pids', ns], { reject: false, timeoutMs: 5000 });
      if (r.exitCode === 0) out.push(...r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((p) => p > 1 && p !== process.pid && inOurPidNs(p)));
    }
    return out;
  };
  let pids = await pidsIn();
  for (const p of pids) try { process.kill(p, 'SIGTERM'); } catch {}
  const deadline = Date.now() + 3000;
  while (pids.length && Date.now() < deadline) {
    await sleep(50);
    pids = pids.filter((p) => existsSync(`/proc/${p}`) && !isZombie(p));
  }
  for (const p of pids) try { process.kill(p, 'SIGKILL'); } catch {}
}

/**
 * Setup programs are started by vxlab from the host, so they (and whatever they fork) live in vxlab's PID namespace.
 * A node that is a container (runtime docker, kind) also runs the container's own processes in the node's network
 * namespace (its init, kind's systemd and kubelet): those are the runtime's, stopped when it removes the container.
 */
function inOurPidNs(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`) === readlinkSync('/proc/self/ns/pid');
  } catch {
    return false;
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

// --- identities: what each node announces --------------------------------------------------------------------

interface LinkJ {
  ifname: string;
  address?: string;
  mtu?: number;
  linkinfo?: { info_kind?: string; info_data?: Record<string, any> };
}
interface AddrJ {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/** Read one node's VTEP identity from `ip -j -d link` and `ip -j addr` output (pure). */
export function identityFrom(t: ResolvedTopology, n: ResolvedNode, links: LinkJ[], addrs: AddrJ[]): VtepIdentity {
  const dev = n.vtep.dev;
  const l = links.find((x) => x.ifname === dev);
  if (!l) return { device: dev, present: false, addresses: [], problems: [`${n.name}: ${dev} missing: the setup programs created no VTEP device of the ${t.layout} layout`] };
  const d = l.linkinfo?.info_data ?? {};
  // every family's tunnel address (not the kernel's own link-local)
  const addresses = (addrs.find((a) => a.ifname === dev)?.addr_info ?? []).filter((a) => a.family === 'inet' || (a.family === 'inet6' && !/^fe80:/i.test(a.local))).map((a) => `${canonicalIp(a.local)}/${a.prefixlen}`);
  const id: VtepIdentity = {
    device: dev,
    present: true,
    mac: l.address?.toLowerCase(),
    addresses,
    vni: d.id,
    port: d.port,
    local: d.local ?? d.local6,
    learning: d.learning,
    mtu: l.mtu,
    problems: [],
  };
  const observed = (f: number) => addresses.filter((a) => a.includes(':') === (f === 6));
  // one tunnel address per pod family, on this device (dual-stack pods share one device, as vxlab builds them)
  n.podSubnets.forEach((subnet) => {
    const block = parseAnyCidr(subnet);
    const got = observed(block.family);
    const seen = got.length ? got.join(', ') : 'none';
    // the family is named when it is not the plain IPv4 case
    const what = n.podSubnets.length > 1 || block.family === 6 ? `${fam(block.family)} address` : 'address';
    if (t.layout === 'flannel') {
      // flannel's rule: the pod subnet's network address, /32 (IPv6: /128)
      const want = `${hostAny(block, 0)}/${hostPrefix(block.family)}`;
      if (!got.includes(want)) id.problems.push(`${n.name}: ${dev} ${what}: expected ${want} (flannel: the pod subnet's network address), observed ${seen}`);
    } else if (!got.some((a) => containsIp(block, a.split('/')[0]!))) {
      // calico: the tunnel address is allocated by IPAM from the node's block
      id.problems.push(`${n.name}: ${dev} ${what}: expected a tunnel address from ${n.name}'s block ${subnet}, observed ${seen}`);
    }
  });
  return id;
}

/**
 * Substitute what the node announces into the expectation model: its VTEP MAC always (the control plane chose it),
 * its tunnel address where the layout lets the control plane choose (calico's IPAM). Device parameters (VNI, port,
 * learning, MTU) stay the topology's rules, and the suites compare them.
 */
export function applyIdentity(t: ResolvedTopology, n: ResolvedNode, id: VtepIdentity): void {
  // every pod family's identity: dual-stack pods share the device, so its MAC; calico: each family's tunnel address
  for (const [i, v] of n.vteps.entries()) {
    v.observed = id;
    if (!id.present || !id.mac) {
      v.mac = `(none: ${n.name} has no ${n.vtep.dev})`;
      continue;
    }
    v.mac = id.mac;
    if (t.layout === 'calico') {
      const block = parseAnyCidr(n.podSubnets[i] ?? n.podSubnet);
      const a = id.addresses.find((x) => containsIp(block, x.split('/')[0]!));
      if (a) v.ip = a.split('/')[0]!;
    }
  }
  n.vtep.observed = id;
}

/** builder: external — read every node's identity from the live node and put it into `t`. No-op for builder: vxlab. */
export async function observeIdentities(t: ResolvedTopology, o: { skipMissingNs?: boolean } = {}): Promise<void> {
  if (t.builder !== 'external') return;
  await pool(t.nodes, 8, async (n) => {
    if (o.skipMissingNs && !existsSync(`/var/run/netns/${n.ns}`)) return;
    const [links, addrs] = await Promise.all([ipJson<LinkJ[]>(n.ns, ['-d', 'link', 'show']), ipJson<AddrJ[]>(n.ns, ['addr', 'show'])]);
    applyIdentity(t, n, identityFrom(t, n, links, addrs));
  });
}
