// runtime netns, the pure part normalize asks of it (harness/runtime/resolve.ts): nothing that runs anything.
import type { RuntimeResolve } from '../types.ts';
import { SemanticError } from '../../topology/errors.ts';

export const netnsResolve: RuntimeResolve = {
  validate(t) {
    if (t.image !== undefined) throw new SemanticError(['image'], 'image needs runtime docker or kind; runtime netns nodes are network namespaces');
    t.nodes.forEach((n, i) => {
      if (n.image !== undefined) throw new SemanticError(['nodes', i, 'image'], 'image needs runtime docker or kind; runtime netns nodes are network namespaces');
    });
  },
  decorate(r) {
    for (const s of r.segments) s.ns = `${r.prefix}-${r.name}-seg-${s.name}`;
  },
};
