// Runs suites against a live topology and collects CheckResults; writes artifacts when something fails.
import { copyFileSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { CheckResult } from '../report/types.ts';
import type { ResolvedTopology } from '../topology/resolved.ts';
import type { CheckContext, SuiteDef } from './check.ts';
import { namespaces } from '../topology/resolved.ts';
import { run, pool } from '../util/exec.ts';
import { nsExists } from '../runtime/netns/runtime.ts';

export interface RunSuitesOptions {
  workDir: string;
  onProgress?: (msg: string) => void;
  onResult?: (r: CheckResult) => void;
}

export async function runSuites(t: ResolvedTopology, suites: SuiteDef[], o: RunSuitesOptions): Promise<{ results: CheckResult[]; kept: string[] }> {
  const kept: string[] = [];
  const results: CheckResult[] = [];
  for (const suite of suites) {
    const memo = new Map<string, Promise<unknown>>();
    const ctx: CheckContext = {
      t,
      workDir: o.workDir,
      keep: (f) => kept.push(f),
      progress: (m) => o.onProgress?.(m),
      memo: <T>(key: string, make: () => Promise<T>) => {
        if (!memo.has(key)) memo.set(key, make());
        return memo.get(key) as Promise<T>;
      },
    };
    for (const c of suite.checks) {
      o.onProgress?.(c.id);
      const t0 = performance.now();
      let r: CheckResult;
      try {
        const out = await c.run(ctx);
        r = { id: c.id, suite: suite.name, title: c.title, ...out, durationMs: Math.round(performance.now() - t0) };
      } catch (e: any) {
        r = { id: c.id, suite: suite.name, title: c.title, status: 'fail', message: `check crashed: ${e?.message ?? e}`, durationMs: Math.round(performance.now() - t0) };
      }
      results.push(r);
      o.onResult?.(r);
    }
  }
  return { results, kept };
}

/** On failure: pcaps, `ip -j` dumps of every namespace, and the resolved topology, into DIR. */
export async function writeArtifacts(t: ResolvedTopology, dir: string, files: string[]): Promise<string> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'resolved.json'), JSON.stringify(t, null, 2));
  for (const f of files) if (existsSync(f)) copyFileSync(f, join(dir, basename(f)));
  const live = namespaces(t).filter(nsExists);
  mkdirSync(join(dir, 'ns'), { recursive: true });
  await pool(live, 4, async (ns) => {
    const dump: Record<string, unknown> = {};
    for (const [key, argv] of Object.entries({
      link: ['ip', '-j', '-d', 'link', 'show'],
      addr: ['ip', '-j', 'addr', 'show'],
      route: ['ip', '-j', 'route', 'show', 'table', 'all'],
      neigh: ['ip', '-j', 'neigh', 'show'],
      fdb: ['bridge', '-j', 'fdb', 'show'],
    })) {
      const r = await run(argv, { ns, reject: false });
      try {
        dump[key] = JSON.parse(r.stdout || 'null');
      } catch {
        dump[key] = r.stdout;
      }
    }
    const nft = await run(['nft', '-j', 'list', 'ruleset'], { ns, reject: false });
    dump.nft = nft.exitCode === 0 ? safeJson(nft.stdout) : null;
    writeFileSync(join(dir, 'ns', `${ns}.json`), JSON.stringify(dump, null, 2));
  });
  return dir;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
