// The netns runtime: nodes are network namespaces; a batch of operations is one `ip -batch` process per namespace.
import { existsSync } from 'node:fs';
import { run, pool } from '../../util/exec.ts';
import type { Op } from '../../plan/plan.ts';

export const NETNS_DIR = '/var/run/netns';

export function nsExists(ns: string): boolean {
  return existsSync(`${NETNS_DIR}/${ns}`);
}

/** Create namespaces: a single `ip -batch` process for all of them. */
export async function createNamespaces(names: string[]): Promise<void> {
  if (!names.length) return;
  await run(['ip', '-batch', '-'], { input: names.map((n) => `netns add ${n}`).join('\n') + '\n' });
}

/** Delete namespaces that exist, in one process; then wait until each is really gone (bounded). */
export async function deleteNamespaces(names: string[]): Promise<string[]> {
  const present = names.filter(nsExists);
  if (present.length) {
    await run(['ip', '-force', '-batch', '-'], { input: present.map((n) => `netns del ${n}`).join('\n') + '\n', reject: false });
  }
  const deadline = Date.now() + 10_000;
  let left = present.filter(nsExists);
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    left = left.filter(nsExists);
  }
  if (left.length) {
    // a busy mount: retry one at a time so the error names the namespace
    for (const n of left) await run(['ip', 'netns', 'del', n], { reject: false });
    left = left.filter(nsExists);
  }
  return left;
}

export async function runOp(ns: string, op: Exclude<Op, { kind: 'vtep' }>): Promise<void> {
  switch (op.kind) {
    case 'ip':
      if (op.lines.length) await run(['ip', '-n', ns, '-batch', '-'], { input: op.lines.join('\n') + '\n' });
      return;
    case 'bridge':
      if (op.lines.length) await run(['bridge', '-n', ns, '-batch', '-'], { input: op.lines.join('\n') + '\n' });
      return;
    case 'ethtool':
      await run(['ip', 'netns', 'exec', ns, 'ethtool', '-K', op.dev, ...Object.entries(op.features).flat()]);
      return;
    case 'sysctl':
      await run(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', ...Object.entries(op.settings).map(([k, v]) => `${k}=${v}`)]);
      return;
  }
}

export { pool };
