import fs from 'node:fs';
import koffi from 'koffi';
import { Worker } from 'node:worker_threads';
import { c, openTap, errno, O_NONBLOCK, rawSocket, udpSocket, sockaddrIn } from '../ffi.ts';
import { run } from '../../util/exec.ts';
const mode = process.argv[2]!; const ms = 3000;
const fd = openTap('vxtb0');
await run(['ip', 'link', 'set', 'vxtb0', 'up', 'address', '02:00:00:00:00:01', 'txqueuelen', '1000']);
await run(['ip', 'addr', 'add', '10.9.0.1/24', 'dev', 'vxtb0']);
await run(['ip', 'link', 'set', 'lo', 'up']);
await run(['ip', 'neigh', 'add', '10.9.0.2', 'lladdr', '02:00:00:00:00:02', 'dev', 'vxtb0', 'nud', 'permanent']);
let n = 0; let done = false;
const gen = (await import('node:child_process')).spawn('node', ['--import', 'tsx', 'harness/vtep/microbench/gen.ts', String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
let genOut = ''; gen.stdout.on('data', (d) => (genOut += d));
const t0 = Date.now();
if (mode === 'fsread') {
  const inflight = Number(process.argv[3] ?? 1);
  for (let k = 0; k < inflight; k++) {
    const b = Buffer.alloc(65536);
    const loop = () => fs.read(fd, b, 0, 65536, null, (err, r) => { if (!err && r > 0) n++; if (!done) loop(); });
    loop();
  }
} else if (mode === 'kpoll' || mode === 'kpoll-dgram') {
  const dg = (await import('node:dgram')).createSocket('udp4'); await new Promise<void>((r) => dg.bind(50001, '127.0.0.1', () => r()));
  // koffi.node.poll in main loop + non-blocking drain
  const fl = c.ioctl; // set O_NONBLOCK via fcntl
  const fcntl = koffi.load(null as any).func('int fcntl(int, int, ...)');
  fcntl(fd, 4, 'int', O_NONBLOCK | 2);
  const b = Buffer.alloc(65536);
  const h = koffi.node.poll(fd, { readable: true }, () => { for (let i = 0; i < 256; i++) { const r = c.read(fd, b, 65536) as number; if (r <= 0) break; n++; if (mode === 'kpoll-dgram') dg.send(b.subarray(0, r + 8), 4789, '127.0.0.1'); } });
  setTimeout(() => h.stop(), ms + 500);
} else if (mode === 'worker' || mode === 'worker-raw' || mode === 'worker-udp') {
  const sab = new SharedArrayBuffer(8); const cnt = new Float64Array(sab);
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((a) => { a.register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); })`;
  const w = new Worker(boot, { eval: true, workerData: { fd, sab, mode } });
  w.unref();
  setTimeout(() => { n = cnt[0]!; }, ms + 400);
}
await new Promise((r) => gen.on('exit', r));
await new Promise((r) => setTimeout(r, 500));
done = true;
const st = JSON.parse((await run(['ip', '-s', '-j', 'link', 'show', 'vxtb0'])).stdout)[0].stats64;
console.log(JSON.stringify({ mode, arg: process.argv[3], read: n, ...JSON.parse(genOut), tapTxDropped: st.tx.dropped, pps: Math.round(n / (ms / 1000)) }));
c._exit(0);
