// What normalize asks of a runtime (RuntimeResolve: what it cannot do, reserved addresses, the names it gives things),
// by runtime name, without the runtimes themselves: `vxlab validate` (and its quick path) need no Docker client, no
// netlink, no process runner. Each runtime object in registry.ts spreads its own resolve part, so the two cannot
// differ; a unit test keeps the names equal to the registry's.
import type { RuntimeResolve } from './types.ts';
import { netnsResolve } from './netns/resolve.ts';
import { dockerResolve } from './docker/resolve.ts';
import { kindResolve } from './kind/resolve.ts';

const RESOLVE: Record<string, RuntimeResolve> = {
  netns: netnsResolve,
  docker: dockerResolve,
  kind: kindResolve,
};

/** The runtimes' names, in the registry's order (the schema's enum of `runtime:`). */
export function runtimeNames(): string[] {
  return Object.keys(RESOLVE);
}

export function getRuntimeResolve(name: string | undefined): RuntimeResolve {
  const r = Object.hasOwn(RESOLVE, name ?? 'netns') ? RESOLVE[name ?? 'netns'] : undefined;
  if (!r) throw new Error(`unknown runtime '${name}'; known: ${runtimeNames().join(', ')}`);
  return r;
}
