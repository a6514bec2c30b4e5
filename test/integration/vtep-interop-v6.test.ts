// Userspace VTEP over an IPv6 underlay (UDP6 sockets), carrying IPv4 and IPv6 inner frames: interop with the kernel
// vxlan device and with itself, in private vxt-vtep-it6-<pid>-* namespaces (root only; removed in afterAll). The pid
// keeps concurrent runs of this file (other worktrees on the same kernel) from sweeping each other's namespaces.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpdumpIn } from '../helpers/capture.ts';
import { run } from '../../harness/util/exec.ts';
import { createVtepLab, listVtepNamespaces, ping, sleep, sweepNamespaces, type LabSide, type VtepLab } from '../../harness/vtep/lab.ts';
import type { VtepCounters } from '../../harness/vtep/stats.ts';

const isRoot = process.getuid?.() === 0;
// namespace names carry this process's pid: another worker or session running this file at the same time has its own
// (the sweeps below remove only this process's leftovers)
const T = `it6-${process.pid.toString(36)}`;
const PREFIX = `vxt-vtep-${T}`;
const suite = isRoot ? describe : process.env.CI === 'true' ? describe : describe.skip;

if (!isRoot && process.env.CI === 'true') {
  describe('vtep interop over IPv6', () => {
    it('must run as root', () => {
      throw new Error('integration tests need root (network namespaces, TAP devices); CI must run them as root');
    });
  });
}

const delta = (after: VtepCounters, before: VtepCounters, k: keyof VtepCounters) => after[k] - before[k];

/** Bulk TCP from `from` to `addr`:5555 inside `to` (MiB of random bytes); the receiver's SHA-256 must equal the sender's. */
async function bulkTcp(from: { ns: string }, to: { ns: string }, addr: string, mib = 16): Promise<{ sent: string; got: string; bytes: number }> {
  const server = spawn('ip', ['netns', 'exec', to.ns, 'node', '-e',
    `const h = require('node:crypto').createHash('sha256'); let n = 0;
     const srv = require('node:net').createServer((s) => { s.on('data', (d) => { h.update(d); n += d.length; }); s.on('end', () => { console.log(JSON.stringify({ got: h.digest('hex'), bytes: n })); srv.close(); }); });
     srv.listen(5555, ${JSON.stringify(addr)}, () => console.log('listening'));`,
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  server.stdout.on('data', (d) => (out += d));
  const done = new Promise((r) => server.on('exit', r));
  try {
    const end = Date.now() + 10_000;
    while (!out.includes('listening') && Date.now() < end) await sleep(20);
    const r = await run(['node', '-e',
      `const c = require('node:crypto'); const h = c.createHash('sha256');
       const s = require('node:net').connect(5555, ${JSON.stringify(addr)}, async () => {
         for (let i = 0; i < ${mib}; i++) { const b = c.randomBytes(1 << 20); h.update(b); if (!s.write(b)) await new Promise((r) => s.once('drain', r)); }
         s.end(() => console.log(h.digest('hex')));
       });`,
    ], { ns: from.ns, timeoutMs: 60_000 });
    await Promise.race([done, sleep(20_000)]);
    const j = JSON.parse(out.split('\n').find((l) => l.startsWith('{')) ?? '{}');
    return { sent: r.stdout.trim(), got: j.got, bytes: j.bytes };
  } finally {
    server.kill('SIGKILL');
  }
}

/** the pod addresses of a lab side, per inner family */
const podAddrs = (s: LabSide) => [['IPv4', s.podIp], ['IPv6', s.podIp6!]] as const;

suite('userspace VTEP over an IPv6 underlay', () => {
  beforeAll(async () => {
    await sweepNamespaces(`${PREFIX}-`);
  });
  afterAll(async () => {
    await sweepNamespaces(`${PREFIX}-`);
    expect(await listVtepNamespaces(`${PREFIX}-`)).toEqual([]);
  });

  describe('kernel (a) ↔ userspace (b)', () => {
    let lab: VtepLab;
    beforeAll(async () => {
      lab = await createVtepLab({ tag: `${T}-ku`, family: 6, a: 'kernel', b: 'user' });
    });
    afterAll(async () => {
      await lab?.destroy();
    });

    it('the userspace side binds UDP6, applies the 70-byte rule and lists its IPv6 peer', async () => {
      expect(lab.vtepMtu).toBe(1430);
      const s = await lab.b.vtep!.stats();
      expect(s).toMatchObject({ family: 6, overhead: 70, local: lab.b.underlayIp, mtu: 1430, underlayMtu: 1500 });
      expect(s.fdb).toContainEqual(expect.objectContaining({ mac: lab.a.vtepMac, dst: lab.a.underlayIp, static: true }));
      const link = JSON.parse((await run(['ip', '-j', 'link', 'show', 'dev', lab.b.dev], { ns: lab.b.ns })).stdout)[0];
      expect(link.mtu).toBe(1430);
      const sock = (await run(['ss', '-H', '-u', '-a', '-n', `sport = :${lab.port}`], { ns: lab.b.ns })).stdout;
      expect(sock).toContain(`[${lab.b.underlayIp}]:${lab.port}`);
    });

    it('ping works both ways in both inner families, and the VTEP counts it', async () => {
      const before = (await lab.b.vtep!.stats()).counters;
      for (const [[fam, dstB], [, dstA]] of [[podAddrs(lab.b)[0], podAddrs(lab.a)[0]], [podAddrs(lab.b)[1], podAddrs(lab.a)[1]]] as const) {
        const ab = await ping(lab.a.ns, dstB, { count: 3, intervalS: 0.05 });
        expect(ab.ok, `${fam} a -> b\n${ab.stdout}`).toBe(true);
        const ba = await ping(lab.b.ns, dstA, { count: 3, intervalS: 0.05 });
        expect(ba.ok, `${fam} b -> a\n${ba.stdout}`).toBe(true);
      }
      const after = (await lab.b.vtep!.stats()).counters;
      expect(delta(after, before, 'rxPackets')).toBeGreaterThanOrEqual(12);
      expect(delta(after, before, 'txPackets')).toBeGreaterThanOrEqual(12);
      expect(after.sendError + after.rxError).toBe(0);
    });

    it('DF boundary per inner family: MTU − 28 (IPv4) and MTU − 48 (IPv6) fit; one byte more is refused and counted tooBig', async () => {
      const mtu = lab.vtepMtu;
      for (const [fam, dst, hdr] of [['IPv4', lab.a.podIp, 28], ['IPv6', lab.a.podIp6!, 48]] as const) {
        const fits = await ping(lab.b.ns, dst, { count: 2, intervalS: 0.05, size: mtu - hdr, df: true });
        expect(fits.ok, `${fam}: ${mtu - hdr} bytes\n${fits.stdout}`).toBe(true);
      }
      // let the TAP take a bigger frame so it reaches the VTEP, which must refuse to send 1501 bytes on a 1500 underlay
      await run(['ip', 'link', 'set', lab.b.dev, 'mtu', String(mtu + 1)], { ns: lab.b.ns });
      try {
        for (const [fam, dst, hdr] of [['IPv4', lab.a.podIp, 28], ['IPv6', lab.a.podIp6!, 48]] as const) {
          const before = (await lab.b.vtep!.stats()).counters;
          const big = await ping(lab.b.ns, dst, { count: 2, intervalS: 0.05, size: mtu - hdr + 1, df: true, waitS: 1 });
          expect(big.received, `${fam}\n${big.stdout}`).toBe(0);
          const after = (await lab.b.vtep!.stats()).counters;
          expect(delta(after, before, 'tooBig'), fam).toBe(2);
        }
      } finally {
        await run(['ip', 'link', 'set', lab.b.dev, 'mtu', String(mtu)], { ns: lab.b.ns });
      }
    });

    it('bulk TCP both ways, over both inner families, arrives intact; TCPv6 super-frames are segmented here', async () => {
      const before = (await lab.b.vtep!.stats()).counters;
      for (const [from, to] of [[lab.a, lab.b], [lab.b, lab.a]] as const) {
        for (const [fam, addr] of podAddrs(to)) {
          const r = await bulkTcp(from, to, addr);
          expect(r.bytes, `${fam} ${from.name} -> ${to.name}`).toBe(16 << 20);
          expect(r.got, `${fam} ${from.name} -> ${to.name}`).toBe(r.sent);
        }
      }
      const after = (await lab.b.vtep!.stats()).counters;
      expect(delta(after, before, 'tapRxTso')).toBeGreaterThan(0);
      expect(after.sendError + after.tapWriteError).toBe(0);
    });
  });

  describe('userspace ↔ userspace', () => {
    let lab: VtepLab;
    beforeAll(async () => {
      lab = await createVtepLab({ tag: `${T}-uu`, family: 6, a: 'user', b: { kind: 'user', config: { learning: true, fdb: [] } } });
    });
    afterAll(async () => {
      await lab?.destroy();
    });

    it('ping both families; b learns a behind its IPv6 underlay address', async () => {
      // b learns a from a's first request on its rx thread; the entry reaches b's tx thread through a MessagePort,
      // which may deliver after the first reply is already read from the TAP (then counted unknownDst): prime once
      await ping(lab.a.ns, lab.b.podIp, { count: 1 });
      for (const [fam, dst] of podAddrs(lab.b)) {
        const r = await ping(lab.a.ns, dst, { count: 2, intervalS: 0.05 });
        expect(r.ok, `${fam}\n${r.stdout}\n${lab.b.vtep!.log()}\n${JSON.stringify((await lab.b.vtep!.stats()).counters)}`).toBe(true);
      }
      for (const [fam, dst] of podAddrs(lab.a)) {
        const r = await ping(lab.b.ns, dst, { count: 2, intervalS: 0.05 });
        expect(r.ok, `${fam}\n${r.stdout}\n${lab.b.vtep!.log()}\n${JSON.stringify((await lab.b.vtep!.stats()).counters)}`).toBe(true);
      }
      const s = await lab.b.vtep!.stats();
      expect(s.fdb).toContainEqual(expect.objectContaining({ mac: lab.a.vtepMac, dst: lab.a.underlayIp, type: 'learned' }));
    });

    it('two inner flows leave with two different outer UDP source ports over IPv6', async () => {
      const td = tcpdumpIn(lab.b.ns, ['-i', 'eth0', '-n', '-l', '-c', '2', `ip6 and udp dst port 4789 and src host ${lab.a.underlayIp}`]);
      let out: string;
      try {
        await td.ready;
        await ping(lab.a.ns, lab.b.podIp6!, { count: 1, src: lab.a.vtepIp6 });
        await ping(lab.a.ns, lab.b.podIp6!, { count: 1, src: lab.a.podIp6 });
        await Promise.race([td.done, sleep(5000)]);
      } finally {
        out = td.out;
        td.child.kill('SIGKILL');
      }
      const ports = [...out.matchAll(/IP6 fd00:192:0:2::1\.(\d+) > fd00:192:0:2::2\.4789/g)].map((m) => Number(m[1]));
      expect(ports.length, out).toBe(2);
      expect(ports[0]).not.toBe(ports[1]);
      for (const p of ports) expect(p).toBeGreaterThanOrEqual(49152);
    });
  });

  describe('userspace ↔ userspace bulk TCP over IPv6 (offloads on, and off)', () => {
    for (const offloads of [true, false]) {
      it(`both inner families arrive intact with offloads ${offloads ? 'on: TSO4/TSO6 + UDP6 GSO out, UDP6 GRO in' : 'off'}`, async () => {
        const lab = await createVtepLab({ tag: `${T}-bulk`, family: 6, a: { kind: 'user', config: { offloads } }, b: { kind: 'user', config: { offloads } } });
        try {
          for (const [fam, addr] of podAddrs(lab.b)) {
            const r = await bulkTcp(lab.a, lab.b, addr);
            expect(r.bytes, fam).toBe(16 << 20);
            expect(r.got, fam).toBe(r.sent);
          }
          const a = (await lab.a.vtep!.stats()).counters;
          const b = (await lab.b.vtep!.stats()).counters;
          expect(a.sendError + a.tooBig + b.tapWriteError + b.rxError).toBe(0);
          if (offloads) {
            expect(a.tapRxTso).toBeGreaterThan(0);
            // GSO over the UDP6 socket, or a counted refusal
            expect(a.txGso + a.gsoRefused).toBeGreaterThan(0);
            expect(b.rxGro + b.groRefused).toBeGreaterThan(0);
            expect(a.txPackets).toBeGreaterThan(a.tapRxFrames);
          } else expect(a.tapRxTso + b.tapTxGro + a.txGso + b.rxGro).toBe(0);
        } finally {
          await lab.destroy();
        }
      });
    }
  });
});
