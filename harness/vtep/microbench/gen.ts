// blast UDP 1400B to 10.9.0.2:9 for N ms via koffi sendto (goes out the TAP)
import { c, sockaddrIn, AF_INET, SOCK_DGRAM } from '../ffi.ts';
const fd = c.socket(AF_INET, SOCK_DGRAM, 0) as number;
const sa = sockaddrIn('10.9.0.2', 9); const buf = Buffer.alloc(1400);
const end = Date.now() + Number(process.argv[2] ?? 3000); let n = 0;
while (Date.now() < end) { for (let i = 0; i < 64; i++) { c.sendto(fd, buf, 1400, 0, sa, 16); n++; } }
console.log(JSON.stringify({ gen: n }));
