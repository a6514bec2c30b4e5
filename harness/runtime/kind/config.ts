// The kind cluster config vxlab generates (pure): first topology node = control plane, the rest workers; no default
// CNI (vxlab builds the overlay, as flanneld or calico-node would); pod subnet and node CIDR size from the overlay.
import { stringify } from 'yaml';
import type { ResolvedTopology } from '../../topology/resolved.ts';

/** kind's networking.ipFamily for the pods' families: ipv4, ipv6 or dual */
export function kindIpFamily(t: ResolvedTopology): 'ipv4' | 'ipv6' | 'dual' {
  return t.families.length > 1 ? 'dual' : t.families[0] === 6 ? 'ipv6' : 'ipv4';
}

/**
 * kube-controller-manager's per-node CIDR sizes: one flag on a single-stack cluster, one per family on a dual-stack
 * one (--node-cidr-mask-size-ipv4 / -ipv6; the single flag is refused there).
 */
function maskSizeArgs(t: ResolvedTopology): Record<string, string> {
  if (t.families.length === 1) return { 'node-cidr-mask-size': String(t.overlay.nodeCidrSize) };
  return Object.fromEntries(t.families.map((f, i) => [`node-cidr-mask-size-ipv${f}`, String(t.overlay.nodeCidrSizes[i])]));
}

export function kindConfig(t: ResolvedTopology): Record<string, unknown> {
  return {
    kind: 'Cluster',
    apiVersion: 'kind.x-k8s.io/v1alpha4',
    name: t.kindCluster,
    // dual-stack: kind takes both CIDRs comma-separated, IPv4 first
    networking: { disableDefaultCNI: true, podSubnet: t.overlay.podCidrs.join(','), ipFamily: kindIpFamily(t) },
    kubeadmConfigPatches: [stringify({ kind: 'ClusterConfiguration', controllerManager: { extraArgs: maskSizeArgs(t) } })],
    nodes: t.nodes.map((n, i) => ({ role: i === 0 ? 'control-plane' : 'worker', ...(n.image ? { image: n.image } : {}) })),
  };
}

export function kindConfigYaml(t: ResolvedTopology): string {
  return stringify(kindConfig(t));
}
