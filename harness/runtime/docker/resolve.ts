// runtime docker, the pure part normalize asks of it (harness/runtime/resolve.ts): nothing that talks to Docker.
import type { RuntimeResolve } from '../types.ts';
import { checkIfName } from '../../topology/names.ts';
import { hostAny, parseAnyCidr, sizeN } from '../../topology/ip.ts';

export const dockerResolve: RuntimeResolve = {
  validate() {},
  reservedHost(n) {
    return { offset: n - 2n, why: "is the gateway Docker puts on the segment's bridge (runtime docker reserves the last host address)" };
  },
  decorate(r, t) {
    const base = `${r.prefix}-${r.name}`;
    r.segments.forEach((s, i) => {
      // the gateway Docker puts on the segment's bridge: the last host address, so .1 stays free for the router
      s.bridge = checkIfName(`${r.prefix}-s${i}`, ['underlay', 'segments', i, 'name']);
      const c = parseAnyCidr(s.cidr);
      s.network = { name: `${base}-seg-${s.name}`, bridge: s.bridge, gateway: hostAny(c, sizeN(c) - 2n), internal: !r.routed };
    });
    r.nodes.forEach((n, i) => {
      n.container = `${base}-${n.name}`;
      n.image = t.nodes[i]!.image ?? t.image;
    });
    if (r.routed) r.routerContainer = `${base}-router`;
  },
};
