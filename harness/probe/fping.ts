// Reachability from one source to many targets with a single fping process.
import { run } from '../util/exec.ts';

export interface FpingOptions {
  /** per-target timeout of one probe, ms */
  timeoutMs?: number;
  /** extra tries per target */
  retries?: number;
}

/** Returns the set of targets that answered. fping is bounded: targets × (retries+1) probes. */
export async function reachable(ns: string, targets: string[], o: FpingOptions = {}): Promise<Set<string>> {
  if (!targets.length) return new Set();
  const argv = ['fping', '-a', '-q', '-r', String(o.retries ?? 1), '-t', String(o.timeoutMs ?? 300), '-i', '1', '-B', '1', ...targets];
  const budget = (targets.length * 2 + (o.timeoutMs ?? 300) * ((o.retries ?? 1) + 1)) + 5000;
  const r = await run(argv, { ns, netOnly: true, reject: false, timeoutMs: budget });
  if (r.exitCode > 1 && !r.stdout.trim()) throw new Error(`fping failed in ${ns} (exit ${r.exitCode}): ${r.stderr.trim()}`);
  return new Set(r.stdout.split('\n').map((s) => s.trim()).filter(Boolean));
}
