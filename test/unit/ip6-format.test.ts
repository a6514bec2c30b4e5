// The two IPv6 text formatters — harness/topology/ip.ts formatIp6 (captures, VTEP, topology) and the state reader's
// formatIp (harness/runtime/netns/nl-dump.ts, which must print what `ip` prints) — held to glibc's inet_ntop(3). The
// expected strings were produced by glibc itself (Python's socket.inet_ntop on this Debian host calls it), and are the
// forms ip(8) and tcpdump print: the longest run of two or more zero groups as '::' (the leftmost on a tie), IPv4-mapped
// (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d, six zero groups then a non-zero group) tails dotted.
import { describe, expect, test } from 'vitest';
import { formatIp6 } from '../../harness/topology/ip.ts';
import { formatIp } from '../../harness/runtime/netns/nl-dump.ts';

const GLIBC: [string, string][] = [
  ['0:0:0:0:0:0:0:0', '::'],
  ['0:0:0:0:0:0:0:1', '::1'],
  ['0:0:0:0:0:0:0:2', '::2'],
  ['0:0:0:0:0:0:102:304', '::1.2.3.4'],
  ['0:0:0:0:0:0:ffff:102', '::255.255.1.2'],
  ['0:0:0:0:0:ffff:102:304', '::ffff:1.2.3.4'],
  ['0:0:0:0:0:ffff:0:0', '::ffff:0.0.0.0'],
  ['0:0:0:0:ffff:0:102:304', '::ffff:0:102:304'],
  ['0:0:0:0:0:1:102:304', '::1:102:304'],
  ['0:0:0:0:0:0:0:ffff', '::ffff'],
  ['fd00:10:244:3:0:0:0:0', 'fd00:10:244:3::'],
  ['fe80:0:0:0:ecee:eeff:feee:eeee', 'fe80::ecee:eeff:feee:eeee'],
  ['1:0:1:0:1:0:1:0', '1:0:1:0:1:0:1:0'],
  ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
  ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
  ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
  ['1:0:0:2:0:0:0:4', '1:0:0:2::4'],
  ['0:0:1:0:0:0:0:0', '0:0:1::'],
  ['64:ff9b:0:0:0:0:102:304', '64:ff9b::102:304'],
  ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
];

const bytes = (groups: string) => {
  const b = Buffer.alloc(20);
  groups.split(':').forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), 2 + i * 2));
  return b; // at offset 2, so an offset bug shows
};

describe('IPv6 text as glibc inet_ntop writes it', () => {
  test.each(GLIBC)('formatIp6 %s → %s', (groups, want) => expect(formatIp6(bytes(groups), 2)).toBe(want));
  test.each(GLIBC)('nl-dump formatIp %s → %s', (groups, want) => expect(formatIp(bytes(groups), 2, 16)).toBe(want));
});
