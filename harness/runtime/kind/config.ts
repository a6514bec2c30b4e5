// The kind cluster config vxlab generates (pure): first topology node = control plane, the rest workers; no default
// CNI (vxlab builds the overlay, as flanneld or calico-node would); pod subnet and node CIDR size from the overlay.
import { stringify } from 'yaml';
import type { ResolvedTopology } from '../../topology/resolved.ts';

export function kindConfig(t: ResolvedTopology): Record<string, unknown> {
  return {
    kind: 'Cluster',
    apiVersion: 'kind.x-k8s.io/v1alpha4',
    name: t.kindCluster,
    networking: { disableDefaultCNI: true, podSubnet: t.overlay.podCidr, ipFamily: 'ipv4' },
    kubeadmConfigPatches: [
      stringify({ kind: 'ClusterConfiguration', controllerManager: { extraArgs: { 'node-cidr-mask-size': String(t.overlay.nodeCidrSize) } } }),
    ],
    nodes: t.nodes.map((n, i) => ({ role: i === 0 ? 'control-plane' : 'worker', ...(n.image ? { image: n.image } : {}) })),
  };
}

export function kindConfigYaml(t: ResolvedTopology): string {
  return stringify(kindConfig(t));
}
