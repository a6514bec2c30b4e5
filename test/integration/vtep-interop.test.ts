// Userspace VTEP ↔ Linux kernel vxlan interop, in vxt-vtep-it-* namespaces (root only).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpdumpIn } from '../helpers/capture.ts';
import { run } from '../../harness/util/exec.ts';
import { createVtepLab, deleteNamespace, listVtepNamespaces, ping, sleep, sweepNamespaces, type VtepLab } from '../../harness/vtep/lab.ts';
import type { VtepCounters } from '../../harness/vtep/stats.ts';

const isRoot = process.getuid?.() === 0;
// namespace names carry this process's pid: another worker or session running this file at the same time has its own
// (the sweeps below remove only this process's leftovers)
const T = `it-${process.pid.toString(36)}`;
const PREFIX = `vxt-vtep-${T}`;
const suite = isRoot ? describe : process.env.CI === 'true' ? describe : describe.skip;

if (!isRoot && process.env.CI === 'true') {
  describe('vtep interop', () => {
    it('must run as root', () => {
      throw new Error('integration tests need root (network namespaces, TAP devices); CI must run them as root');
    });
  });
}

/** run a JS snippet with node inside a namespace (argv, no shell) */
async function nodeIn(ns: string, code: string): Promise<string> {
  const r = await run(['node', '-e', code], { ns });
  return r.stdout;
}

/** Send raw UDP payloads (hex) from `from` inside `ns` to `to`:4789. */
async function sendDatagrams(ns: string, from: string, to: string, hexes: string[]): Promise<void> {
  const code = `
    const s = require('node:dgram').createSocket('udp4');
    const pk = ${JSON.stringify(hexes)};
    s.bind(0, ${JSON.stringify(from)}, async () => {
      for (const h of pk) await new Promise((r) => s.send(Buffer.from(h, 'hex'), 4789, ${JSON.stringify(to)}, r));
      s.close();
    });`;
  await nodeIn(ns, code);
}

function vxlan(flags: number, vni: number, inner: Buffer, reservedLast = 0): string {
  const h = Buffer.alloc(8);
  h[0] = flags;
  h.writeUIntBE(vni, 4, 3);
  h[7] = reservedLast;
  return Buffer.concat([h, inner]).toString('hex');
}

function delta(after: VtepCounters, before: VtepCounters, k: keyof VtepCounters): number {
  return after[k] - before[k];
}

/**
 * Bulk TCP from `from` to `to`:5555 (32 MiB of random bytes): the receiver's SHA-256 must equal the
 * sender's — the offload path (software TSO/GRO, partial checksums) must not corrupt or lose a byte.
 */
async function bulkTcp(from: { ns: string }, to: { ns: string; podIp: string }, mib = 32): Promise<{ sent: string; got: string; bytes: number }> {
  const server = spawn(
    'ip',
    [
      'netns', 'exec', to.ns, 'node', '-e',
      `const h = require('node:crypto').createHash('sha256'); let n = 0;
       const srv = require('node:net').createServer((s) => { s.on('data', (d) => { h.update(d); n += d.length; }); s.on('end', () => { console.log(JSON.stringify({ got: h.digest('hex'), bytes: n })); srv.close(); }); });
       srv.listen(5555, ${JSON.stringify(to.podIp)}, () => console.log('listening'));`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  server.stdout.on('data', (d) => (out += d));
  const done = new Promise((r) => server.on('exit', r));
  try {
    const end = Date.now() + 10_000;
    while (!out.includes('listening') && Date.now() < end) await sleep(20);
    const r = await run(
      [
        'node', '-e',
        `const c = require('node:crypto'); const h = c.createHash('sha256');
         const s = require('node:net').connect(5555, ${JSON.stringify(to.podIp)}, async () => {
           for (let i = 0; i < ${mib}; i++) { const b = c.randomBytes(1 << 20); h.update(b); if (!s.write(b)) await new Promise((r) => s.once('drain', r)); }
           s.end(() => console.log(h.digest('hex')));
         });`,
      ],
      { ns: from.ns, timeoutMs: 60_000 },
    );
    await Promise.race([done, sleep(20_000)]);
    const j = JSON.parse(out.split('\n').find((l) => l.startsWith('{')) ?? '{}');
    return { sent: r.stdout.trim(), got: j.got, bytes: j.bytes };
  } finally {
    server.kill('SIGKILL');
  }
}

async function waitGone(pid: number, maxMs: number): Promise<boolean> {
  const end = Date.now() + maxMs;
  while (Date.now() < end) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await sleep(50);
  }
  return false;
}

suite('userspace VTEP interop with the kernel vxlan device', () => {
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
      lab = await createVtepLab({ tag: `${T}-ku`, a: 'kernel', b: 'user' });
    });
    afterAll(async () => {
      await lab?.destroy();
    });

    it('ping works both ways and the VTEP counts it', async () => {
      const before = (await lab.b.vtep!.stats()).counters;
      const ab = await ping(lab.a.ns, lab.b.podIp, { count: 5, intervalS: 0.05 });
      expect(ab.ok, ab.stdout).toBe(true);
      const ba = await ping(lab.b.ns, lab.a.podIp, { count: 5, intervalS: 0.05 });
      expect(ba.ok, ba.stdout).toBe(true);
      const after = (await lab.b.vtep!.stats()).counters;
      // 5 requests in + 5 replies in; 5 replies out + 5 requests out (plus any IPv6 ND noise)
      expect(delta(after, before, 'rxPackets')).toBeGreaterThanOrEqual(10);
      expect(delta(after, before, 'tapTxFrames')).toBeGreaterThanOrEqual(10);
      expect(delta(after, before, 'txPackets')).toBeGreaterThanOrEqual(10);
      expect(after.rxBytes).toBeGreaterThan(before.rxBytes);
      expect(after.txBytes).toBeGreaterThan(before.txBytes);
      expect(after.wrongVni + after.noIFlag + after.runt).toBe(0);
    });

    it('stats expose the static FDB entry', async () => {
      const s = await lab.b.vtep!.stats();
      expect(s.fdb).toContainEqual(expect.objectContaining({ mac: lab.a.vtepMac, dst: lab.a.underlayIp, static: true, type: 'static' }));
      expect(s.srcPorts.length).toBe(64);
      expect(s.srcPorts.every((p) => p >= 49152 && p <= 65535)).toBe(true);
    });

    it('a DF ping that fits passes; one byte more is dropped and counted tooBig', async () => {
      // TAP MTU 1450: ICMP payload 1422 + 8 + 20 = 1450 → outer 1500 = underlay MTU
      const fits = await ping(lab.b.ns, lab.a.podIp, { count: 2, intervalS: 0.05, size: 1422, df: true });
      expect(fits.ok, fits.stdout).toBe(true);
      // let the TAP accept a bigger frame so it reaches the VTEP, which must refuse to fragment
      await run(['ip', 'link', 'set', lab.b.dev, 'mtu', '1451'], { ns: lab.b.ns });
      try {
        const before = (await lab.b.vtep!.stats()).counters;
        const big = await ping(lab.b.ns, lab.a.podIp, { count: 2, intervalS: 0.05, size: 1423, df: true, waitS: 1 });
        expect(big.received).toBe(0);
        const after = (await lab.b.vtep!.stats()).counters;
        expect(delta(after, before, 'tooBig')).toBe(2);
      } finally {
        await run(['ip', 'link', 'set', lab.b.dev, 'mtu', '1450'], { ns: lab.b.ns });
      }
    });

    it('bulk TCP both ways arrives intact (kernel ↔ userspace)', async () => {
      for (const [from, to] of [
        [lab.a, lab.b],
        [lab.b, lab.a],
      ] as const) {
        const r = await bulkTcp(from, to);
        expect(r.bytes).toBe(32 << 20);
        expect(r.got).toBe(r.sent);
      }
      // the userspace side sent with software TSO (its TAP handed over super-frames)
      expect((await lab.b.vtep!.stats()).counters.tapRxTso).toBeGreaterThan(0);
    });

    it('counts crafted bad packets by reason: wrongVni, noIFlag, runt; reserved bits accepted and counted', async () => {
      const before = (await lab.b.vtep!.stats()).counters;
      const inner = Buffer.alloc(60);
      Buffer.from(lab.b.vtepMac.split(':').map((x) => parseInt(x, 16))).copy(inner, 0);
      Buffer.from(lab.a.vtepMac.split(':').map((x) => parseInt(x, 16))).copy(inner, 6);
      inner.writeUInt16BE(0x88b5, 12); // local experimental EtherType: harmless to the stack
      await sendDatagrams(lab.a.ns, lab.a.underlayIp, lab.b.underlayIp, [
        vxlan(0x08, 2, inner),
        vxlan(0x08, 99, inner),
        vxlan(0x08, 0xffffff, inner),
        vxlan(0x00, 1, inner),
        vxlan(0x80, 1, inner),
        Buffer.from('0800000000000100', 'hex').toString('hex'), // header only: runt
        vxlan(0x08 | 0x40, 1, inner, 0xff), // reserved bits: accepted
      ]);
      // until the VTEP has taken in all seven (bounded), not a fixed pause; then the exact counts
      let after = (await lab.b.vtep!.stats()).counters;
      for (const end = Date.now() + 10_000; (delta(after, before, 'rxPackets') < 7 || delta(after, before, 'tapTxFrames') < 1) && Date.now() < end; ) {
        await sleep(20);
        after = (await lab.b.vtep!.stats()).counters;
      }
      expect(delta(after, before, 'wrongVni')).toBe(3);
      expect(delta(after, before, 'noIFlag')).toBe(2);
      expect(delta(after, before, 'runt')).toBe(1);
      expect(delta(after, before, 'reservedBitsSet')).toBe(1);
      expect(delta(after, before, 'rxPackets')).toBe(7);
      expect(delta(after, before, 'tapTxFrames')).toBe(1);
    });
  });

  describe('userspace ↔ userspace', () => {
    let lab: VtepLab;
    beforeAll(async () => {
      lab = await createVtepLab({ tag: `${T}-uu`, a: 'user', b: { kind: 'user', config: { learning: true, ageingSec: 1, fdb: [] } } });
    });
    afterAll(async () => {
      await lab?.destroy();
    });

    it('ping works both ways; b learns a behind its underlay IP', async () => {
      const ab = await ping(lab.a.ns, lab.b.podIp, { count: 3, intervalS: 0.05 });
      expect(ab.ok, ab.stdout).toBe(true);
      const ba = await ping(lab.b.ns, lab.a.podIp, { count: 3, intervalS: 0.05 });
      expect(ba.ok, ba.stdout).toBe(true);
      const s = await lab.b.vtep!.stats();
      expect(s.fdb).toContainEqual(expect.objectContaining({ mac: lab.a.vtepMac, dst: lab.a.underlayIp, type: 'learned', static: false }));
      expect(s.counters.learnedNew).toBeGreaterThanOrEqual(1);
      const sa = await lab.a.vtep!.stats();
      expect(sa.counters.txPackets).toBeGreaterThanOrEqual(6);
      expect(sa.counters.rxPackets).toBeGreaterThanOrEqual(6);
    });

    it('learned entries age out (ageingSec 1) and the removal is counted', async () => {
      let s = await lab.b.vtep!.stats();
      const end = Date.now() + 15_000;
      while (s.fdb.some((e) => e.type === 'learned') && Date.now() < end) {
        await sleep(200);
        s = await lab.b.vtep!.stats();
      }
      expect(s.fdb.filter((e) => e.type === 'learned')).toEqual([]);
      expect(s.counters.aged).toBeGreaterThanOrEqual(1);
      // traffic from a re-learns it
      const ab = await ping(lab.a.ns, lab.b.podIp, { count: 1 });
      expect(ab.ok, ab.stdout).toBe(true);
      expect((await lab.b.vtep!.stats()).fdb).toContainEqual(expect.objectContaining({ mac: lab.a.vtepMac, type: 'learned' }));
    });

    it('two inner flows leave with two different outer UDP source ports', async () => {
      const td = tcpdumpIn(lab.b.ns, ['-i', 'eth0', '-n', '-l', '-c', '2', 'udp dst port 4789 and src host 192.0.2.1']);
      let out: string;
      try {
        await td.ready;
        await ping(lab.a.ns, lab.b.podIp, { count: 1, src: lab.a.vtepIp });
        await ping(lab.a.ns, lab.b.podIp, { count: 1, src: lab.a.podIp });
        await Promise.race([td.done, sleep(5000)]);
      } finally {
        out = td.out;
        td.child.kill('SIGKILL');
      }
      const ports = [...out.matchAll(/192\.0\.2\.1\.(\d+) > 192\.0\.2\.2\.4789/g)].map((m) => Number(m[1]));
      expect(ports.length, out).toBe(2);
      expect(ports[0]).not.toBe(ports[1]);
      for (const p of ports) expect(p).toBeGreaterThanOrEqual(49152);
    });
  });

  describe('userspace ↔ userspace bulk TCP (offloads on, and off)', () => {
    for (const offloads of [true, false]) {
      it(`arrives intact with offloads ${offloads ? 'on: TSO + GSO out, GRO + coalesced TAP writes in' : 'off'}`, async () => {
        const lab = await createVtepLab({ tag: `${T}-bulk`, a: { kind: 'user', config: { offloads } }, b: { kind: 'user', config: { offloads } } });
        try {
          const r = await bulkTcp(lab.a, lab.b);
          expect(r.bytes).toBe(32 << 20);
          expect(r.got).toBe(r.sent);
          const a = (await lab.a.vtep!.stats()).counters;
          const b = (await lab.b.vtep!.stats()).counters;
          expect(a.sendError + a.tooBig + b.tapWriteError + b.rxError).toBe(0);
          if (offloads) {
            expect(a.tapRxTso).toBeGreaterThan(0);
            expect(b.tapTxGro).toBeGreaterThan(0);
            expect(a.txPackets).toBeGreaterThan(a.tapRxFrames); // segmented here
          } else expect(a.tapRxTso + b.tapTxGro).toBe(0);
        } finally {
          await lab.destroy();
        }
      });
    }
  });

  describe('faults seen from a kernel peer', () => {
    it('wrongVni on send: the kernel side drops the replies', async () => {
      const lab = await createVtepLab({ tag: `${T}-fv`, a: 'kernel', b: { kind: 'user', faults: { wrongVni: 2 } } });
      try {
        const r = await ping(lab.a.ns, lab.b.podIp, { count: 3, intervalS: 0.05, waitS: 1 });
        expect(r.received).toBe(0);
        const s = await lab.b.vtep!.stats();
        expect(s.counters.rxPackets).toBeGreaterThanOrEqual(3); // requests arrived
        expect(s.counters.txPackets).toBeGreaterThanOrEqual(3); // replies sent, with VNI 2
      } finally {
        await lab.destroy();
      }
    });

    it('clearIFlag and corruptUdpChecksum on send: the kernel drops them too', async () => {
      for (const faults of [{ clearIFlag: true }, { corruptUdpChecksum: true }]) {
        const lab = await createVtepLab({ tag: `${T}-fc`, a: 'kernel', b: { kind: 'user', faults } });
        try {
          const r = await ping(lab.a.ns, lab.b.podIp, { count: 3, intervalS: 0.05, waitS: 1 });
          expect(r.received, JSON.stringify(faults)).toBe(0);
          expect((await lab.b.vtep!.stats()).counters.txPackets).toBeGreaterThanOrEqual(3);
          if (faults.corruptUdpChecksum) {
            const n = await run(['nstat', '-az', 'UdpInCsumErrors'], { ns: lab.a.ns });
            expect(Number(/UdpInCsumErrors\s+(\d+)/.exec(n.stdout)?.[1])).toBeGreaterThanOrEqual(3);
          }
        } finally {
          await lab.destroy();
        }
      }
    });

    it('100% rx drop fault: requests are counted faultDrop and not answered', async () => {
      const lab = await createVtepLab({ tag: `${T}-fd`, a: 'kernel', b: { kind: 'user', faults: { rxDropPercent: 100 } } });
      try {
        const r = await ping(lab.a.ns, lab.b.podIp, { count: 3, intervalS: 0.05, waitS: 1 });
        expect(r.received).toBe(0);
        const c = (await lab.b.vtep!.stats()).counters;
        expect(c.rxFaultDrop).toBeGreaterThanOrEqual(3);
        expect(c.faultDrop).toBe(c.rxFaultDrop + c.txFaultDrop);
      } finally {
        await lab.destroy();
      }
    });
  });

  describe('lifecycle', () => {
    it('exits, and its TAP disappears, when its parent is SIGKILLed', async () => {
      const ns = `${PREFIX}-death`;
      const dir = mkdtempSync(join(tmpdir(), 'vxt-vtep-death-'));
      await run(['ip', 'netns', 'add', ns]);
      try {
        await run(['ip', 'link', 'set', 'lo', 'up'], { ns });
        await run(['ip', 'addr', 'add', '192.0.2.9/32', 'dev', 'lo'], { ns });
        const script = fileURLToPath(new URL('../fixtures/vtep/parent-spawns-vtep.ts', import.meta.url));
        const parent = spawn(process.execPath, ['--import', 'tsx', script, ns, dir, '192.0.2.9'], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        parent.stdout.on('data', (d) => (out += d));
        const end = Date.now() + 30_000;
        while (!out.includes('\n') && Date.now() < end && parent.exitCode === null) await sleep(50);
        const { vtepPid } = JSON.parse(out) as { vtepPid: number };
        const links = await run(['ip', '-j', 'link', 'show', 'flannel.1'], { ns, reject: false });
        expect(links.exitCode).toBe(0);
        process.kill(parent.pid!, 'SIGKILL');
        expect(await waitGone(vtepPid, 10_000)).toBe(true);
        const after = await run(['ip', 'link', 'show', 'flannel.1'], { ns, reject: false });
        expect(after.exitCode).not.toBe(0);
      } finally {
        await deleteNamespace(ns);
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('SIGTERM: exits 0 and removes its control socket and ready file', async () => {
      const lab = await createVtepLab({ tag: `${T}-term`, a: 'user', b: 'kernel' });
      try {
        const v = lab.a.vtep!;
        const exit = new Promise<number | null>((r) => v.child.once('exit', (c) => r(c)));
        v.child.kill('SIGTERM');
        expect(await exit).toBe(0);
        const { existsSync } = await import('node:fs');
        expect(existsSync(v.controlPath)).toBe(false);
        expect(existsSync(v.readyFile)).toBe(false);
      } finally {
        await lab.destroy();
      }
    });
  });
});
