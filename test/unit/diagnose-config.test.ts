// Which diagnosed causes settle a silent matrix cell after one round (#14: retries only where a result can change).
import { describe, expect, it } from 'vitest';
import { isConfigCause } from '../../harness/diagnose/pair.ts';

describe('isConfigCause', () => {
  it('configuration read from the kernel or seen rejected by the receiving VTEP: final', () => {
    for (const c of [
      'no route on node1 to 10.244.2.2 (Network is unreachable): missing route 10.244.2.0/24 via 10.244.2.0 dev flannel.1',
      'no neighbour entry on node1 for fd00:10:244:2:: dev flannel.1 (NDP failed: state FAILED): expected lladdr 02:00:00:00:00:02',
      'no FDB entry on node1 for 02:00:00:00:00:02 dev flannel.1: expected dst 192.168.1.3 (node2)',
      'wrong FDB entry on node1: 02:00:00:00:00:02 dev flannel.1 dst 192.168.1.4, expected dst 192.168.1.3 (node2)',
      "rejected by node2's VTEP: 4 packet(s) from node1 arrive on UDP port 4789, node2's VTEP listens on 8472 (seen by the encapsulation capture)",
      "requests reach node2; the replies fail: rejected by node1's VTEP: packets from node2 arrive with VNI 99, node1's VTEP has VNI 1 (seen by the encapsulation capture)",
    ])
      expect(isConfigCause(c), c).toBe(true);
  });
  it('loss, drop rules, resolution in progress, ICMP errors and no cause: retried', () => {
    for (const c of [
      undefined,
      "dropped on the underlay: 2 VXLAN packet(s) left node1's eth0 (192.168.1.2 -> 192.168.1.3:4789), none arrived at node2's eth0",
      "arrived at node2's eth0 (2 packet(s) from node1) and dropped there by nftables inet t/c: udp dport 4789 drop (3 packets)",
      'no neighbour entry on node1 for 10.244.2.0 dev flannel.1 (ARP incomplete: state INCOMPLETE): expected lladdr 02:00:00:00:00:02',
      'dropped by strict reverse-path filtering on node2: …',
      'ICMPv6 error from node2 (flannel.1, fd00:10:244:2::): "Destination unreachable: Administratively prohibited" for node1/pod1 -> fd00:10:244:2::2',
      "no route in pod node1/pod1 to 10.244.2.2 (ENETUNREACH): missing route 10.244.0.0/16 or default via 10.244.1.1; the pod has no routes",
    ])
      expect(isConfigCause(c), String(c)).toBe(false);
  });
});
