// Which diagnosed causes settle a silent matrix cell after one round (#14: retries only where a result can change).
import { describe, expect, it } from 'vitest';
import { isConfigCause, probabilistic } from '../../harness/diagnose/pair.ts';
import { sharedNodeCause } from '../../harness/diagnose/boundary.ts';

describe('isConfigCause', () => {
  it('configuration read from the kernel or seen rejected by the receiving VTEP: final', () => {
    for (const c of [
      'no route on node1 to 10.244.2.2 (Network is unreachable): missing route 10.244.2.0/24 via 10.244.2.0 dev flannel.1',
      'no neighbour entry on node1 for fd00:10:244:2:: dev flannel.1 (NDP failed: state FAILED): expected lladdr 02:00:00:00:00:02',
      'no FDB entry on node1 for 02:00:00:00:00:02 dev flannel.1: expected dst 192.168.1.3 (node2)',
      'wrong FDB entry on node1: 02:00:00:00:00:02 dev flannel.1 dst 192.168.1.4, expected dst 192.168.1.3 (node2)',
      "rejected by node2's VTEP: 4 packet(s) from node1 arrive on UDP port 4789, node2's VTEP listens on 8472 (seen by the encapsulation capture)",
      "requests reach node2; the replies fail: rejected by node1's VTEP: packets from node2 arrive with VNI 99, node1's VTEP has VNI 1 (seen by the encapsulation capture)",
      // the reply path's node state, read before any capture of the diagnosis's own (diagnosePair 2b)
      "the replies cannot come back, whatever the requests meet: on node1's side, stale neighbour entry on node1: 10.244.3.0 dev flannel.1 lladdr 02:bf:e9:07:b1:93, but node3's VTEP MAC is 02:aa:bb:cc:dd:03",
      // a drop rule with no chance or rate in it drops the same packets next round
      "arrived at node2's eth0 (2 packet(s) from node1) and dropped there by nftables inet t/c: udp dport 4789 drop (3 packets)",
      "nothing left node3's eth0 for node1 (192.168.1.4 -> 192.168.1.2, seen by the encapsulation capture): dropped on node3 by nftables inet vxlab_fault_drop/output: udp dport 4789 drop (7 packets)",
      "dropped by strict reverse-path filtering on node2: node1's pod packets (10.244.1.2) arrive on eth0, but node2's route back to 10.244.1.2 is 10.244.1.0/24 dev flannel.1 (asymmetric routing; rp_filter = 1: net.ipv4.conf.all.rp_filter = 1, net.ipv4.conf.eth0.rp_filter = 0; loose mode 2 accepts it)",
    ])
      expect(isConfigCause(c), c).toBe(true);
  });
  it('loss, probabilistic drop rules, resolution in progress, ICMP errors and no cause: retried', () => {
    for (const c of [
      undefined,
      "dropped on the underlay: 2 VXLAN packet(s) left node1's eth0 (192.168.1.2 -> 192.168.1.3:4789), none arrived at node2's eth0",
      // a `loss:` fault's rule: chance decides, another round may get through
      "arrived at node2's eth0 (2 packet(s) from node1) and dropped there by nftables inet vxlab_fault_loss/input: iifname eth0 {\"numgen\":{\"mode\":\"random\",\"mod\":100}} 30 drop (3 packets; probabilistic: numgen)",
      "nothing left node1's eth0 for node2 (192.168.1.2 -> 192.168.1.3, seen by the encapsulation capture): dropped on node1 by nftables inet t/c: udp dport 4789 limit drop (5 packets; probabilistic: limit)",
      // nothing left, and no rule counted: vxlab cannot say what dropped it
      "nothing left node1's eth0 for node2 (192.168.1.2 -> 192.168.1.3, seen by the encapsulation capture): dropped inside node1",
      'no neighbour entry on node1 for 10.244.2.0 dev flannel.1 (ARP incomplete: state INCOMPLETE): expected lladdr 02:00:00:00:00:02',
      "the replies cannot come back, whatever the requests meet: on node1's side, no neighbour entry on node1 for 10.244.3.0 dev flannel.1 (ARP incomplete: state INCOMPLETE): expected lladdr 02:00:00:00:00:03",
      'ICMPv6 error from node2 (flannel.1, fd00:10:244:2::): "Destination unreachable: Administratively prohibited" for node1/pod1 -> fd00:10:244:2::2',
      "no route in pod node1/pod1 to 10.244.2.2 (ENETUNREACH): missing route 10.244.0.0/16 or default via 10.244.1.1; the pod has no routes",
    ])
      expect(isConfigCause(c), String(c)).toBe(false);
  });
});

describe('probabilistic', () => {
  it('names chance and rate in a rule, not plain matches or anonymous sets', () => {
    expect(probabilistic([{ match: { op: '<', left: { numgen: { mode: 'random', mod: 100, offset: 0 } }, right: 30 } }, { counter: { packets: 3, bytes: 1 } }, { drop: null }])).toBe('numgen');
    expect(probabilistic([{ limit: { rate: 10, per: 'second' } }, { drop: null }])).toBe('limit');
    expect(probabilistic([{ set: { op: 'update', elem: { payload: { protocol: 'ip', field: 'saddr' } }, set: '@m' } }, { drop: null }])).toBe('meter');
    expect(probabilistic([{ match: { op: '==', left: { payload: { protocol: 'udp', field: 'dport' } }, right: { set: [4789, 8472] } } }, { counter: { packets: 1, bytes: 1 } }, { drop: null }])).toBe('');
    expect(probabilistic([{ match: { op: '==', left: { payload: { protocol: 'udp', field: 'dport' } }, right: 4789 } }, { drop: null }])).toBe('');
  });
});

describe('sharedNodeCause: a dead pod pair whose cause the node-to-VTEP probe meets too (df-boundary skips that ping)', () => {
  it('node forwarding state for the peer, on either path, and a VTEP rejecting port or VNI', () => {
    for (const c of [
      'stale neighbour entry on node1: 10.244.3.0 dev flannel.1 lladdr 02:bf:e9:07:b1:93, but node3\'s VTEP MAC is 02:aa:bb:cc:dd:03',
      "the replies cannot come back, whatever the requests meet: on node1's side, stale neighbour entry on node1: 10.244.3.0 dev flannel.1 lladdr 02:bf:e9:07:b1:93, but node3's VTEP MAC is 02:aa:bb:cc:dd:03",
      'requests reach node2; the replies fail: wrong FDB entry on node2: 02:00:00:00:00:01 dev flannel.1 dst 192.168.1.2, expected dst 192.168.1.50 (node1)',
      'no route on node1 to 10.244.2.2 (Network is unreachable): missing route 10.244.2.0/24 via 10.244.2.0 dev flannel.1',
      "rejected by node2's VTEP: 4 packet(s) from node1 arrive on UDP port 4789, node2's VTEP listens on 8472 (seen by the encapsulation capture)",
    ])
      expect(sharedNodeCause(c), c).toBe(true);
  });
  it('drop rules (may match pod addresses only), rp_filter, resolution in progress, pod-side causes, loss, none: probed', () => {
    for (const c of [
      undefined,
      "arrived at node2's eth0 (2 packet(s) from node1) and dropped there by nftables inet t/c: udp dport 4789 drop (3 packets)",
      "dropped by strict reverse-path filtering on node2: node1's pod packets (10.244.1.2) arrive on eth0, but node2's route back to 10.244.1.2 is 10.244.1.0/24 dev flannel.1 (asymmetric routing; rp_filter = 1)",
      'no neighbour entry on node1 for 10.244.2.0 dev flannel.1 (ARP incomplete: state INCOMPLETE): expected lladdr 02:00:00:00:00:02',
      'no route in pod node1/pod1 to 10.244.2.2 (ENETUNREACH): missing route 10.244.0.0/16 or default via 10.244.1.1; the pod has no routes',
      "dropped on the underlay: 2 VXLAN packet(s) left node1's eth0 (192.168.1.2 -> 192.168.1.3:4789), none arrived at node2's eth0",
    ])
      expect(sharedNodeCause(c), String(c)).toBe(false);
  });
});
