import { workerData } from 'node:worker_threads';
import { c, rawSocket, udpSocket, sockaddrIn } from '../ffi.ts';
const { fd, sab, mode } = workerData; const cnt = new Float64Array(sab);
const b = Buffer.alloc(65536 + 64);
let s = -1; const dst = sockaddrIn('127.0.0.1', 4789);
if (mode === 'worker-raw') s = rawSocket(); if (mode === 'worker-udp') s = udpSocket('127.0.0.1', 50000);
let n = 0;
for (;;) {
  const r = c.read(fd, b.subarray(36), 65536) as number;
  if (r > 0) {
    n++;
    if (mode === 'worker-raw') {
      b[0] = 0x45; b[1] = 0; b.writeUInt16BE(36 + r, 2); b.writeUInt32BE(0x4000, 4); b[8] = 64; b[9] = 17; b.writeUInt16BE(0, 10);
      b.writeUInt32BE(0x7f000001, 12); b.writeUInt32BE(0x7f000001, 16); b.writeUInt16BE(50000, 20); b.writeUInt16BE(4789, 22); b.writeUInt16BE(16 + r, 24); b.writeUInt16BE(0, 26);
      b.writeUInt32BE(0x08000000, 28); b.writeUInt32BE(0x100, 32);
      c.sendto(s, b, 36 + r, 0, dst, 16);
    } else if (mode === 'worker-udp') {
      b.writeUInt32BE(0x08000000, 28); b.writeUInt32BE(0x100, 32);
      c.sendto(s, b.subarray(28), 8 + r, 0, dst, 16);
    }
    if ((n & 63) === 0) cnt[0] = n;
  }
}
