// Shared by the diagnosis test files (diagnose.test.ts, diagnose-v6.test.ts): a node by name, a regex escape, and the
// three nft commands that add one rule in a table of its own (diagbreak) inside a namespace.
import type { ResolvedTopology } from '../../harness/topology/resolved.ts';

export const node = (t: ResolvedTopology, name: string) => t.nodes.find((n) => n.name === name)!;
export const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
export const nft = (ns: string, family: string, hook: string, rule: string): [string, string[]][] => [
  [ns, ['nft', 'add', 'table', family, 'diagbreak']],
  [ns, ['nft', 'add', 'chain', family, 'diagbreak', 'c', `{ type filter hook ${hook} priority 0; }`]],
  [ns, ['nft', ...`add rule ${family} diagbreak c ${rule}`.split(' ')]],
];
