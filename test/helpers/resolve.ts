// Load and resolve a topology given as YAML text, as `validate` does: for unit tests of the schema and normalize.
import { expect } from 'vitest';
import { loadTopology, locateSemantic } from '../../harness/topology/load.ts';
import { normalize } from '../../harness/topology/normalize.ts';
import { TopologyError } from '../../harness/topology/errors.ts';
import { tempTopology } from './topo.ts';

export function resolveYaml(yaml: string) {
  const f = tempTopology(yaml);
  const l = loadTopology(f);
  try {
    return normalize(l.topology, { runId: 'u1', file: l.file });
  } catch (e) {
    throw locateSemantic(l, e);
  }
}

export function errorOf(yaml: string): string {
  try {
    resolveYaml(yaml);
  } catch (e) {
    expect(e).toBeInstanceOf(TopologyError);
    return (e as Error).message;
  }
  throw new Error('expected a TopologyError');
}
