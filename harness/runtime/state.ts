// The state file: what a run will create, written before it is created. down/cleanup act on exactly this set.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DiscoveredNode } from '../topology/resolved.ts';
import type { Resource } from './types.ts';

export interface OwnedProcess {
  pid: number;
  /** /proc/PID/stat starttime, so a recycled pid is never killed */
  startTime: string;
  ns: string;
  what: string;
  /** where its stdout/stderr go (setup daemons) */
  log?: string;
}

export interface RunState {
  version: 1;
  runId: string;
  prefix: string;
  topology: string;
  file?: string;
  /** the process that owns the run (up, run, repro …) */
  pid: number;
  pidStartTime: string;
  /** ephemeral runs (vxlab run/repro) are reaped once their owner is gone, whatever their status */
  ephemeral: boolean;
  status: 'creating' | 'up' | 'removing';
  createdAt: string;
  namespaces: string[];
  processes: OwnedProcess[];
  /** per-run scratch directory (VTEP configs, captures, CNI cache) */
  workDir: string;
  /** the runtime that created the nodes (absent: netns) */
  runtime?: string;
  /** what the runtime owns outside /var/run/netns (containers, Docker networks, a kind cluster), recorded before creation */
  resources?: Resource[];
  /** per node: what the runtime learned at up (container id and image; kind: IP, MAC, pod CIDR) */
  discovered?: Record<string, DiscoveredNode>;
  /** steps: each recorded before it changes anything (harness/steps/apply.ts); namespaces an add-node creates are in `namespaces` first */
  steps?: import('../steps/types.ts').StepRecord[];
}

export function stateDir(): string {
  return process.env.VXLAB_STATE_DIR ?? '/run/vxlab';
}

export function statePath(runId: string): string {
  return join(stateDir(), `${runId}.json`);
}

export function writeState(s: RunState): void {
  mkdirSync(stateDir(), { recursive: true, mode: 0o700 });
  const p = statePath(s.runId);
  writeFileSync(`${p}.tmp`, JSON.stringify(s, null, 2));
  renameSync(`${p}.tmp`, p);
}

export function readState(runId: string): RunState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(runId), 'utf8')) as RunState;
  } catch {
    return undefined;
  }
}

export function removeState(runId: string): void {
  rmSync(statePath(runId), { force: true });
}

export function listStates(): RunState[] {
  if (!existsSync(stateDir())) return [];
  return readdirSync(stateDir())
    .filter((f) => f.endsWith('.json'))
    .map((f) => readState(f.slice(0, -5)))
    .filter((s): s is RunState => !!s);
}

export function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // field 22, after the parenthesised comm (which may contain spaces)
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number, startTime: string): boolean {
  return procStartTime(pid) === startTime;
}
