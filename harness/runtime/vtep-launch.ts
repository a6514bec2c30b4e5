// Start a userspace VTEP process inside a node namespace and wait until it is ready.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedNode, ResolvedTopology } from '../topology/resolved.ts';
import { procStartTime, type OwnedProcess } from './state.ts';
import { moduleUrl, nodeArgv, PKG_ROOT } from '../util/module.ts';

const MAIN = moduleUrl('../vtep/main.ts', import.meta.url);

export function vtepPaths(workDir: string, node: string) {
  const dir = join(workDir, 'vtep', node);
  return { dir, config: join(dir, 'config.json'), ready: join(dir, 'ready'), control: join(dir, 'control.sock'), log: join(dir, 'vtep.log') };
}

export function vtepConfig(t: ResolvedTopology, n: ResolvedNode, workDir: string, parentPid?: number) {
  const p = vtepPaths(workDir, n.name);
  return {
    dev: n.vtep.dev,
    mac: n.vtep.mac,
    mtu: n.vtep.mtu,
    local: n.ip,
    underlayMtu: n.underlayMtu,
    vni: n.vtep.vni,
    port: n.vtep.port,
    learning: n.vtep.learning,
    ageingSec: 300,
    // like a kernel vxlan device, the VTEP sends to its own configured port (so a port mismatch reproduces faithfully)
    fdb: t.nodes.filter((o) => o !== n).map((o) => ({ mac: o.vtep.mac, dst: o.ip })),
    controlPath: p.control,
    readyFile: p.ready,
    faults: n.vtep.faults ?? {},
    parentPid,
  };
}

/** How VTEPs started by this process ended (pid → exit code / signal), for reporting a VTEP that died mid-run. */
export const vtepExits = new Map<number, { code: number | null; signal: NodeJS.Signals | null }>();

/**
 * Persistent runs (`vxlab up`) detach the VTEP: `down`/`cleanup` stop it by its recorded pid.
 * Ephemeral runs (`vxlab run`) tie it to the owner process: it exits when the owner dies, even by SIGKILL.
 */
export async function startVtep(t: ResolvedTopology, n: ResolvedNode, workDir: string, ephemeral: boolean, record: (p: OwnedProcess) => void, signal?: AbortSignal): Promise<void> {
  const p = vtepPaths(workDir, n.name);
  mkdirSync(p.dir, { recursive: true });
  const cfg = vtepConfig(t, n, workDir, ephemeral ? process.pid : undefined);
  writeFileSync(p.config, JSON.stringify(cfg, null, 2));
  const log = openSync(p.log, 'a');
  // ephemeral: the parent-death signal is set before node even starts (the VTEP's own prctl/polling comes seconds
  // later on a loaded machine), so a SIGKILLed run cannot leave a VTEP that is still booting
  const pdeath = ephemeral && existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL'] : [];
  const child = spawn('ip', ['netns', 'exec', n.ns, ...pdeath, ...nodeArgv(MAIN, ['--config', p.config])], {
    detached: !ephemeral,
    stdio: ['ignore', log, log],
    cwd: PKG_ROOT,
  });
  closeSync(log);
  const pid = child.pid!;
  record({ pid, startTime: procStartTime(pid) ?? '', ns: n.ns, what: `userspace VTEP ${n.vtep.dev} of ${n.name}` });
  if (!ephemeral) child.unref();
  let exited: number | null | undefined;
  child.once('exit', (code, signal) => {
    exited = code;
    vtepExits.set(pid, { code, signal });
  });
  // a bound, not a performance target: on a loaded 2-core machine node+tsx start-up alone has taken 11 s
  const deadline = Date.now() + 60_000;
  while (!existsSync(p.ready)) {
    // SIGINT/SIGTERM during up: stop waiting (the rollback stops the VTEP by its recorded pid)
    if (signal?.aborted) throw Object.assign(new Error('interrupted; rolled back'), { code: 'VXLAB_ABORTED' });
    if (exited !== undefined) throw new Error(`userspace VTEP of ${n.name} exited (code ${exited}) before it was ready:\n${tail(p.log)}`);
    if (Date.now() > deadline) throw new Error(`userspace VTEP of ${n.name} not ready after 60 s:\n${tail(p.log)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}
