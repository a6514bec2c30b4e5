// Real tcpdump in throwaway namespaces. Needs root: runs (never skips) as root; without root it
// fails loudly when CI=true and is skipped otherwise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../harness/util/exec.ts';
import { summarize } from '../../harness/capture/pcap.ts';
import { CaptureError, killAllCaptures, liveCapturePids, readPcap, startCapture } from '../../harness/capture/tcpdump.ts';

const isRoot = process.getuid?.() === 0;
const inCI = process.env.CI === 'true';

if (!isRoot && inCI) {
  describe('capture-tcpdump', () => {
    it('needs root', () => {
      throw new Error('test/integration/capture-tcpdump.test.ts needs root (network namespaces, tcpdump); CI=true so this is a failure, not a skip');
    });
  });
}

const tag = `${process.pid}`;
const NA = `vxt-cap-it-${tag}-a`;
const NB = `vxt-cap-it-${tag}-b`;
const ADDR = {
  a: { ul: '10.210.0.1', ov: '10.211.0.1', vxMac: '02:00:00:d1:00:01' },
  b: { ul: '10.210.0.2', ov: '10.211.0.2', vxMac: '02:00:00:d1:00:02' },
};

/** processes whose command line mentions `needle` */
async function processesMentioning(needle: string): Promise<string[]> {
  const hits: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
      if (cmd.includes(needle)) hits.push(`${pid}: ${cmd}`);
    } catch {
      /* gone */
    }
  }
  return hits;
}

async function nsDel(ns: string): Promise<void> {
  const list = await run(['ip', 'netns', 'list'], { reject: false });
  if (list.stdout.split('\n').some((l) => l.split(' ')[0] === ns)) await run(['ip', 'netns', 'del', ns], { reject: false });
}

describe.skipIf(!isRoot)('tcpdump capture in namespaces', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vxt-cap-it-'));
    await nsDel(NA);
    await nsDel(NB);
    for (const ns of [NA, NB]) {
      await run(['ip', 'netns', 'add', ns]);
      await run(['ip', 'link', 'set', 'lo', 'up'], { ns });
    }
    await run(['ip', 'link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul0', 'netns', NB], { ns: NA });
    for (const [ns, me, peer] of [[NA, ADDR.a, ADDR.b], [NB, ADDR.b, ADDR.a]] as const) {
      await run(['ip', 'link', 'set', 'ul0', 'up'], { ns });
      await run(['ip', 'addr', 'add', `${me.ul}/24`, 'dev', 'ul0'], { ns });
      await run(['ip', 'link', 'add', 'vx0', 'address', me.vxMac, 'type', 'vxlan', 'id', '42',
        'local', me.ul, 'remote', peer.ul, 'dev', 'ul0', 'dstport', '4789'], { ns });
      await run(['ip', 'link', 'set', 'vx0', 'up'], { ns });
      await run(['ip', 'addr', 'add', `${me.ov}/24`, 'dev', 'vx0'], { ns });
    }
  });

  afterAll(async () => {
    killAllCaptures();
    await nsDel(NA);
    await nsDel(NB);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('captures VXLAN-encapsulated pings on the underlay and counts the echo requests', async () => {
    const file = join(dir, 'overlay.pcap');
    const cap = await startCapture({ ns: NA, iface: 'ul0', file, filter: ['udp', 'port', '4789'] });
    expect(cap.linkType).toBe('EN10MB');
    expect(liveCapturePids()).toContain(cap.pid);
    const count = 5;
    const id = 0x5a11;
    await run(['ping', '-4', '-n', '-q', '-c', String(count), '-i', '0.05', '-W', '2', '-e', String(id), ADDR.b.ov], { ns: NA });
    const res = await cap.stop();
    expect(res.killed, res.stderr).toBe(false);
    expect(res.exitCode).toBe(0);
    expect(liveCapturePids()).not.toContain(cap.pid);
    expect(await cap.stop()).toBe(res); // idempotent

    const f = await readPcap(file);
    const lines = f.packets.map((p) => summarize(p)).join('\n');
    expect(res.packetsCaptured, lines).toBe(f.packets.length);
    const echo = (type: number) =>
      f.packets.filter((p) => p.vxlan?.vni === 42 && p.vxlan.inner?.icmp?.type === type && p.vxlan.inner.icmp.id === id);
    const requests = echo(8);
    const replies = echo(0);
    expect(requests.length, lines).toBe(count);
    expect(replies.length, lines).toBe(count);
    expect(requests.map((p) => p.vxlan!.inner!.icmp!.seq)).toEqual([1, 2, 3, 4, 5]);
    for (const p of requests) {
      expect(p.ip4).toMatchObject({ src: ADDR.a.ul, dst: ADDR.b.ul });
      expect(p.udp!.dstPort).toBe(4789);
      expect(p.vxlan!.inner!.eth).toMatchObject({ src: ADDR.a.vxMac, dst: ADDR.b.vxMac });
      expect(p.vxlan!.inner!.ip4).toMatchObject({ src: ADDR.a.ov, dst: ADDR.b.ov });
    }
  });

  it('works as an AsyncDisposable with -i any (LINUX_SLL2) and leaves no process', async () => {
    const file = join(dir, 'any.pcap');
    let pid = 0;
    {
      await using cap = await startCapture({ ns: NB, iface: 'any', file, filter: ['icmp'], timestampPrecision: 'nano' });
      pid = cap.pid;
      expect(cap.linkType).toBe('LINUX_SLL2');
      await run(['ping', '-4', '-n', '-q', '-c', '2', '-i', '0.05', '-W', '2', ADDR.a.ul], { ns: NB });
    }
    expect(liveCapturePids()).not.toContain(pid);
    expect(await processesMentioning(file)).toEqual([]);
    const f = await readPcap(file);
    expect(f.linkTypeName).toBe('LINUX_SLL2');
    expect(f.tsPrecision).toBe('ns');
    const req = f.packets.filter((p) => p.icmp?.type === 8);
    expect(req.length, f.packets.map((p) => summarize(p)).join('\n')).toBe(2);
    expect(req.every((p) => p.sll?.packetTypeName === 'outgoing' && p.sll.ifindex !== undefined)).toBe(true);
  });

  it('rejects clearly on a nonexistent interface and leaves no process behind', async () => {
    const file = join(dir, 'nope.pcap');
    const err = await startCapture({ ns: NA, iface: 'nosuch0', file }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CaptureError);
    expect(String((err as Error).message)).toMatch(/nosuch0/);
    expect(String((err as Error).message)).toMatch(/No such device/i);
    expect(String((err as Error).message)).toMatch(/exited .* before it was listening/);
    expect(liveCapturePids()).toEqual([]);
    expect(await processesMentioning(file)).toEqual([]);
  });

  it('rejects clearly on a bad filter expression', async () => {
    const file = join(dir, 'badfilter.pcap');
    await expect(startCapture({ ns: NA, iface: 'ul0', file, filter: ['udp', 'port', 'banana('] })).rejects.toThrow(/syntax error|can't parse|unknown/i);
    expect(liveCapturePids()).toEqual([]);
    expect(await processesMentioning(file)).toEqual([]);
  });
});
