// The root-namespace snapshot's filter for parallel docker test files: another run's Docker rules are left out by
// the bridge names they carry, whether or not that bridge was in the link list read a moment earlier.
import { describe, expect, it } from 'vitest';
import { foreignLink, namesOtherRunsBridge, otherRunsBridge } from '../helpers/host.ts';

describe('rootSnapshot filters (onlyRun)', () => {
  // the lines CI printed (session 9) for docker.test.ts's run t46wb while docker-ipv6.test.ts compared run rx7ab's
  const ci = [
    'oifname "vx-t46wb-s0" ip saddr != 192.168.41.0/24 counter drop',
    'iifname "vx-t46wb-s0" ip daddr != 192.168.41.0/24 counter drop',
    'iifname "vx-t46wb-s0" oifname "vx-t46wb-s0" counter accept',
  ];
  it('another run\'s bridge rules are left out, this run\'s and Docker\'s own are kept', () => {
    for (const l of ci) expect(namesOtherRunsBridge(l, 'rx7ab'), l).toBe(true);
    for (const l of ci) expect(namesOtherRunsBridge(l, 't46wb'), l).toBe(false);
    expect(namesOtherRunsBridge('iifname "vx-rx7ab-s1" oifname "vx-t46wb-k" counter accept', 'rx7ab')).toBe(true);
    expect(namesOtherRunsBridge('iifname "docker0" oifname != "docker0" counter accept', 'rx7ab')).toBe(false);
    // a vxlab namespace-side name (not a Docker bridge) is never left out
    expect(namesOtherRunsBridge('iifname "vx-t46wb-n1" counter accept', 'rx7ab')).toBe(false);
  });
  it('link names: only a Docker bridge of another run', () => {
    expect(otherRunsBridge('vx-t46wb-s0', 'rx7ab')).toBe(true);
    expect(otherRunsBridge('vx-t46wb-k', 'rx7ab')).toBe(true);
    expect(otherRunsBridge('vx-rx7ab-s0', 'rx7ab')).toBe(false);
    expect(otherRunsBridge('eth0', 'rx7ab')).toBe(false);
    expect(otherRunsBridge(undefined, 'rx7ab')).toBe(false);
  });
});

describe('foreignLink', () => {
  it('another run\'s bridge or port, and a Docker veth not on a bridge (half-made), are foreign; this run\'s are not', () => {
    expect(foreignLink({ ifname: 'vx-t46wb-s0' }, 'rx7ab')).toBe(true);
    expect(foreignLink({ ifname: 'veth1234abc', master: 'vx-t46wb-s0' }, 'rx7ab')).toBe(true);
    // CI, session 10: a veth of docker.test.ts's starting container, with only its link-local, not yet on a bridge
    expect(foreignLink({ ifname: 'vethd9bb434' }, 'rx7ab')).toBe(true);
    expect(foreignLink({ ifname: 'veth1234abc', master: 'vx-rx7ab-s1' }, 'rx7ab')).toBe(false);
    expect(foreignLink({ ifname: 'vx-rx7ab-s0' }, 'rx7ab')).toBe(false);
    expect(foreignLink({ ifname: 'eth0' }, 'rx7ab')).toBe(false);
  });
});
