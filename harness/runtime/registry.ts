// The runtime registry: a runtime is one folder under harness/runtime/ plus one line here (and one in resolve.ts, for
// its pure part: what normalize asks of it).
import type { Runtime } from './types.ts';
import { netnsRuntime } from './netns/index.ts';
import { dockerRuntime } from './docker/index.ts';
import { kindRuntime } from './kind/index.ts';

const RUNTIMES: Record<string, Runtime> = {
  netns: netnsRuntime,
  docker: dockerRuntime,
  kind: kindRuntime,
};

export function runtimeNames(): string[] {
  return Object.keys(RUNTIMES);
}

export function getRuntime(name: string | undefined): Runtime {
  const r = RUNTIMES[name ?? 'netns'];
  if (!r) throw new Error(`unknown runtime '${name}'; known: ${runtimeNames().join(', ')}`);
  return r;
}
