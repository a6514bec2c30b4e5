// Shared by docker.test.ts and docker-kind.test.ts (split so that vitest runs them in parallel workers).
import { execa } from 'execa';
import { resolve } from 'node:path';
import { expect } from 'vitest';
import { needsRoot } from './root.ts';
import { byId, failed } from './session.ts';
import type { runSession } from '../../harness/runner/session.ts';

export const BIN = resolve(import.meta.dirname, '../../bin/vxlab.js');
export const AGENT = resolve(import.meta.dirname, '../fixtures/agents/flannel-agent.mjs');

export const dockerUp = !needsRoot && (await execa('docker', ['info'], { reject: false }).catch(() => ({ exitCode: 1 }))).exitCode === 0;
if (!dockerUp && process.env.CI === 'true') throw new Error('docker integration tests must run in CI: dockerd is not answering (.ci/run starts it)');

export async function docker(...args: string[]): Promise<string> {
  return (await execa('docker', args)).stdout.trim();
}
export const containersOfRun = (id: string) => docker('ps', '-aq', '--filter', `label=vxlab.run=${id}`);
export const networksOfRun = (id: string) => docker('network', 'ls', '-q', '--filter', `label=vxlab.run=${id}`);

export function allPassOrSkip(r: Awaited<ReturnType<typeof runSession>>) {
  expect(failed(r)).toEqual([]);
  const ids = byId(r);
  for (const must of ['routes/fdb', 'encapsulation/outer-addresses', 'mtu/df-boundary', 'mtu/tcp-transfer', 'connectivity/full-mesh']) expect(ids[must], must).toBe('pass');
}
