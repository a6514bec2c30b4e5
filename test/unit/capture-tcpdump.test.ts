// Pure parts of harness/capture/tcpdump.ts (no root, no processes).
import { describe, expect, it } from 'vitest';
import { captureArgv, parseFinalStats, startCapture } from '../../harness/capture/tcpdump.ts';

describe('captureArgv', () => {
  it('builds an argument array that runs tcpdump inside the namespace, filter last after --', () => {
    const argv = captureArgv({
      ns: 'vxt-cap-x', iface: 'any', file: '/tmp/a b.pcap', filter: ['udp', 'port', '4789'],
      snaplen: 128, linkType: 'LINUX_SLL', timestampPrecision: 'nano',
    });
    expect(argv.slice(0, 4)).toEqual(['ip', 'netns', 'exec', 'vxt-cap-x']);
    const t = argv.indexOf('tcpdump');
    expect(t).toBeGreaterThan(3);
    const rest = argv.slice(t);
    expect(rest).toEqual([
      'tcpdump', '-U', '-n', '-Z', 'root', '-i', 'any', '-w', '/tmp/a b.pcap', '--immediate-mode',
      '-s', '128', '-y', 'LINUX_SLL', '--time-stamp-precision=nano', '--', 'udp', 'port', '4789',
    ]);
  });

  it('omits optional flags', () => {
    const argv = captureArgv({ ns: 'n', iface: 'eth0', file: 'f', immediate: false });
    expect(argv.slice(argv.indexOf('tcpdump'))).toEqual(['tcpdump', '-U', '-n', '-Z', 'root', '-i', 'eth0', '-w', 'f']);
  });
});

describe('parseFinalStats', () => {
  it('reads the three summary lines tcpdump prints on exit', () => {
    const stderr = 'tcpdump: listening on ul0, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n'
      + 'tcpdump: 3 packets captured, 3 packets received by filter, 0 packets dropped by kernel\n'
      + '10 packets captured\n12 packets received by filter\n1 packet dropped by kernel\n';
    expect(parseFinalStats(stderr)).toEqual({ packetsCaptured: 10, packetsReceivedByFilter: 12, packetsDroppedByKernel: 1 });
    expect(parseFinalStats('tcpdump: listening on x\n')).toBeUndefined();
  });
});

describe('startCapture argument checks', () => {
  it('refuses to run without a namespace', async () => {
    await expect(startCapture({ ns: '', iface: 'lo', file: '/tmp/x.pcap' })).rejects.toThrow(/ns is required/);
  });
});
