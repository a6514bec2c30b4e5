// Regenerates test/fixtures/vtep/kernel-vxlan-icmp.hex: one VXLAN packet sent by the Linux kernel
// vxlan device (kernel↔kernel lab), captured with tcpdump on the receiving node's underlay veth.
// Run as root: node --import tsx harness/vtep/microbench/capture-fixture.ts
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createVtepLab, ping, sleep } from '../lab.ts';

const lab = await createVtepLab({ tag: 'cap', a: 'kernel', b: 'kernel' });
try {
  const pcap = join(lab.dir, 'cap.pcap');
  const td = spawn('ip', ['netns', 'exec', lab.b.ns, 'tcpdump', '-i', 'eth0', '-n', '-U', '-c', '1', '-w', pcap, 'udp', 'dst', 'port', '4789'], { stdio: 'ignore' });
  await sleep(800);
  await ping(lab.a.ns, lab.b.podIp, { count: 1, size: 16 });
  await new Promise((r) => td.on('exit', r));
  const b = readFileSync(pcap);
  // pcap global header 24 bytes, record header 16 bytes (incl_len at +8), then the Ethernet frame
  const len = b.readUInt32LE(24 + 8);
  const frame = b.subarray(40, 40 + len);
  const hex = frame.toString('hex').replace(/(.{32})/g, '$1\n').trim();
  writeFileSync(new URL('../../../test/fixtures/vtep/kernel-vxlan-icmp.hex', import.meta.url), `${hex}\n`);
  console.log(`captured ${len} bytes`);
} finally {
  await lab.destroy();
}
