// Which command lines are on their way into a run's namespace (harness/runtime/netns/procs.ts entersNamespace): the
// cleanup race's second net, besides /proc/PID/ns/net. Exact names only; merely naming a namespace is not entering it.
import { describe, expect, it } from 'vitest';
import { entersNamespace } from '../../harness/runtime/netns/procs.ts';

const RUN = new Set(['vx-ab1-t-node1', 'vx-ab1-t-node1-pod1']);
const e = (cmd: string) => entersNamespace(cmd.split(' '), RUN);

describe('entersNamespace', () => {
  it('ip netns exec, ip/bridge/tc -n (every spelling), nsenter --net=', () => {
    expect(e('ip netns exec vx-ab1-t-node1 sleep 300')).toBe('vx-ab1-t-node1');
    expect(e('/usr/sbin/ip netns exec vx-ab1-t-node1-pod1 /usr/bin/node sink.mjs')).toBe('vx-ab1-t-node1-pod1');
    expect(e('ip -force netns exec vx-ab1-t-node1 true')).toBe('vx-ab1-t-node1');
    expect(e('ip netns e vx-ab1-t-node1 true')).toBe('vx-ab1-t-node1');
    expect(e('ip -n vx-ab1-t-node1 -batch -')).toBe('vx-ab1-t-node1');
    expect(e('ip -j -netns vx-ab1-t-node1 addr show')).toBe('vx-ab1-t-node1');
    expect(e('ip --netns vx-ab1-t-node1 link')).toBe('vx-ab1-t-node1');
    expect(e('bridge -n vx-ab1-t-node1 -batch -')).toBe('vx-ab1-t-node1');
    expect(e('tc -n vx-ab1-t-node1 qdisc show')).toBe('vx-ab1-t-node1');
    expect(e('nsenter --net=/var/run/netns/vx-ab1-t-node1 sysctl -w x=1')).toBe('vx-ab1-t-node1');
    expect(e('nsenter -n/run/netns/vx-ab1-t-node1-pod1 ping -c1 10.0.0.1')).toBe('vx-ab1-t-node1-pod1');
  });

  it('not: other runs, prefixes of a name, commands that only name it, other tools, the inner command', () => {
    expect(e('ip netns exec vx-zz9-t-node1 sleep 300')).toBeUndefined(); // another run
    expect(e('ip netns exec vx-ab1-t-node sleep 300')).toBeUndefined(); // not a name of the run
    expect(e('ip netns exec vx-ab1-t-node1x sleep 300')).toBeUndefined();
    expect(e('ip netns del vx-ab1-t-node1')).toBeUndefined();
    expect(e('ip netns add vx-ab1-t-node1')).toBeUndefined();
    expect(e('ip -force -batch -')).toBeUndefined();
    expect(e('grep vx-ab1-t-node1 /proc/mounts')).toBeUndefined();
    expect(e('node -e 0 vx-ab1-t-node1')).toBeUndefined();
    expect(e('sleep -n vx-ab1-t-node1')).toBeUndefined();
    expect(e('nsenter --net=/tmp/vx-ab1-t-node1 true')).toBeUndefined(); // not a netns dir
    expect(e('ip netns exec other-ns ip -n vx-ab1-t-node1 link')).toBeUndefined(); // enters other-ns first
    expect(e('ip link show vx-ab1-t-node1')).toBeUndefined();
    expect(e('ip')).toBeUndefined();
    expect(entersNamespace([], RUN)).toBeUndefined();
  });
});
