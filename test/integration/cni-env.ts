// Shared setup for the CNI integration tests: root detection, node / pod namespaces named
// vxt-cni-*, per-run work dirs, and teardown that runs even when a test fails.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run } from '../../harness/util/exec.ts';

export const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
export const SYSTEM_CNI_DIR = '/usr/lib/cni';
export const BROKEN_DIR = resolve(import.meta.dirname, '../fixtures/cni/broken');

/** When not root: fail under CI (CI=true), skip otherwise. Returns true when the suite should run. */
export function rootOrSkip(): boolean {
  if (IS_ROOT) return true;
  if (process.env.CI === 'true') throw new Error('CNI integration tests need root (CI=true, so this is a failure, not a skip)');
  return false;
}

export class NsPool {
  readonly tag = randomBytes(3).toString('hex');
  private seq = 0;
  readonly created = new Set<string>();

  async add(kind: 'node' | 'pod'): Promise<string> {
    const name = `vxt-cni-${kind}-${this.tag}-${this.seq++}`;
    await run(['ip', 'netns', 'add', name]);
    this.created.add(name);
    await run(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  async del(name: string): Promise<void> {
    if (!this.created.has(name)) return;
    await run(['ip', 'netns', 'del', name], { reject: false });
    this.created.delete(name);
  }

  /** Delete every namespace this pool made (and any vxt-cni-*-<tag>-* left over). */
  async cleanup(): Promise<void> {
    for (const n of [...this.created]) await this.del(n);
    const r = await run(['ip', 'netns', 'list'], { reject: false });
    for (const line of r.stdout.split('\n')) {
      const n = line.split(' ')[0];
      if (n && n.startsWith('vxt-cni-') && n.includes(`-${this.tag}-`)) await run(['ip', 'netns', 'del', n], { reject: false });
    }
  }

  async remaining(): Promise<string[]> {
    const r = await run(['ip', 'netns', 'list'], { reject: false });
    return r.stdout
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n && n.includes(`-${this.tag}-`));
  }
}

export async function workDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'vxt-cni-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Can the node namespace run iptables (needed by the Debian portmap plugin, which has no nftables backend)? */
export async function iptablesUsableIn(ns: string): Promise<string | undefined> {
  const r = await run(['ip', 'netns', 'exec', ns, 'iptables', '-t', 'nat', '-S'], { reject: false, timeoutMs: 10_000 }).catch((e) => ({
    exitCode: -1,
    stderr: String(e),
    stdout: '',
  }));
  if (r.exitCode === 0) return undefined;
  return `iptables -t nat does not work in the node namespace (exit ${r.exitCode}: ${r.stderr.trim() || r.stdout.trim()})`;
}
