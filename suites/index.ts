// The suite registry: looked up by name; an unknown name gets an error listing the known ones.
import type { SuiteDef } from '../harness/runner/check.ts';
import { encapsulationSuite } from './encapsulation.ts';
import { routesSuite } from './routes.ts';
import { mtuSuite } from './mtu.ts';
import { connectivitySuite } from './connectivity.ts';

export const SUITES: Record<string, SuiteDef> = {
  routes: routesSuite,
  encapsulation: encapsulationSuite,
  mtu: mtuSuite,
  connectivity: connectivitySuite,
};

export function suiteNames(): string[] {
  return Object.keys(SUITES);
}

export function getSuites(names?: string[]): SuiteDef[] {
  if (!names?.length) return Object.values(SUITES);
  return names.map((n) => {
    const s = SUITES[n];
    if (!s) throw Object.assign(new Error(`unknown suite '${n}'; expected one of: ${suiteNames().join(', ')}`), { code: 'VXLAB_USAGE' });
    return s;
  });
}

/** every known check id, for validating expectations */
export function checkIds(): string[] {
  return Object.values(SUITES).flatMap((s) => s.checks.map((c) => c.id));
}
