// runtime kind, the pure part normalize asks of it (harness/runtime/resolve.ts): nothing that runs kind or Docker.
import type { RuntimeResolve } from '../types.ts';
import { SemanticError } from '../../topology/errors.ts';
import { checkIfName } from '../../topology/names.ts';
import { hostAny, parseAnyCidr } from '../../topology/ip.ts';

/** kind names its node containers <cluster>-control-plane, <cluster>-worker, <cluster>-worker2, … */
export function kindNodeName(cluster: string, index: number): string {
  return index === 0 ? `${cluster}-control-plane` : `${cluster}-worker${index === 1 ? '' : index}`;
}

export const kindResolve: RuntimeResolve = {
  validate(t) {
    const segs = t.underlay?.segments ?? [];
    if (segs.length > 1) throw new SemanticError(['underlay', 'segments', 1], "runtime kind has one underlay segment (the cluster's Docker network); routed underlays need runtime docker or netns");
    t.nodes.forEach((n, i) => {
      if (n.ip !== undefined) throw new SemanticError(['nodes', i, 'ip'], 'runtime kind: node IPs are assigned by Docker when kind creates the node; remove ip (vxlab reads it from Docker)');
      if (n.podSubnet !== undefined) throw new SemanticError(['nodes', i, 'podSubnet'], 'runtime kind: pod subnets come from the cluster (spec.podCIDR) or from overlay.podCidr; remove podSubnet');
    });
  },
  validateFamilies(t, underlay, pods) {
    // IPv6 pods make the cluster ipv6 or dual (kind's networking.ipFamily), whose nodes need IPv6 addresses: kind's
    // network must then be an IPv6 Docker network, which the segment is when its CIDR is IPv6
    if (pods.includes(6) && underlay === 4) {
      const pc = t.overlay?.podCidr;
      const i = Array.isArray(pc) ? pc.findIndex((c) => c.includes(':')) : -1;
      throw new SemanticError(i >= 0 ? ['overlay', 'podCidr', i] : ['overlay', 'podCidr'], `runtime kind: IPv6 pods make a kind cluster of ipFamily ${pods.length > 1 ? 'dual' : 'ipv6'}, whose nodes need IPv6 addresses; expected an IPv6 underlay segment (kind's Docker network; Docker adds its IPv4 subnet itself)`);
    }
  },
  decorate(r, t) {
    const base = `${r.prefix}-${r.name}`;
    const s = r.segments[0]!;
    s.bridge = checkIfName(`${r.prefix}-k`, ['underlay', 'segments', 0, 'name']);
    s.network = { name: base, bridge: s.bridge, gateway: hostAny(parseAnyCidr(s.cidr), 1), internal: false };
    r.nodes.forEach((n, i) => {
      n.container = kindNodeName(base, i);
      n.image = t.nodes[i]!.image ?? t.image;
    });
    r.kindCluster = base;
  },
};
