// mtu/tcp-transfer's stall verdict on real namespaces (#14): a transfer whose sink is frozen for four stall windows
// (what a starved process looks like on a loaded machine) completes and passes; a transfer whose data segments vanish
// on the underlay (an nftables rule drops the big outer packets, the handshake passes) stalls, with the sender's
// retransmissions as the evidence.
import { describe, expect } from 'vitest';
import './../helpers/root.ts';
import { test, TOPO } from '../helpers/topo.ts';
import { tcpTransfer } from '../../harness/probe/tcp.ts';
import { run } from '../../harness/util/exec.ts';

const STALL_MS = 500;

async function pidsOf(needle: string): Promise<number[]> {
  const r = await run(['pgrep', '-f', needle], { reject: false });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

describe('tcp-transfer stall verdict', () => {
  test('a frozen sink (no progress, no retransmission) is waited for: the transfer completes', async ({ bringUp }) => {
    const r = await bringUp(TOPO('flannel-3node.yaml'));
    const t = r.topology;
    const a = t.nodes[0]!.pods[0]!;
    const b = t.nodes[1]!.pods[0]!;
    // big enough that the transfer is still running when the sink is frozen: 128 MiB took about 0.1 s on session
    // 10's faster machine and had ended (sink gone) before the test looked for it (CI: "the sink process was found")
    const bytes = 1 << 30;
    const port = 5291;
    let settled = false;
    const xfer = tcpTransfer(a.ns, b.ns, b.ip, bytes, 60_000, port, STALL_MS).finally(() => (settled = true));
    // the sink first (it listens before the source starts), then freeze it the moment the connection is established
    let frozen: number[] = [];
    for (let i = 0; i < 800 && !frozen.length && !settled; i++) {
      frozen = await pidsOf(`tcp-sink.mjs ${b.ip} ${port}`);
      if (!frozen.length) await new Promise((res) => setTimeout(res, 25));
    }
    expect(frozen.length, 'the sink process was found').toBeGreaterThan(0);
    let up = false;
    for (let i = 0; i < 800 && !up && !settled; i++) {
      const ss = await run(['ss', '-H', '-tn', 'state', 'established', 'sport', '=', String(port)], { ns: b.ns, reject: false });
      up = ss.stdout.trim().length > 0;
      if (!up) await new Promise((res) => setTimeout(res, 25));
    }
    expect(up, 'the connection came up').toBe(true);
    for (const p of frozen) process.kill(p, 'SIGSTOP');
    // the freeze must land mid-transfer, or the test shows nothing
    expect(settled, 'the transfer was still running when the sink was frozen').toBe(false);
    await new Promise((res) => setTimeout(res, 4 * STALL_MS));
    for (const p of frozen) process.kill(p, 'SIGCONT');
    const x = await xfer;
    expect(x.error).toBeUndefined();
    expect(x.connected).toBe(true);
    expect(x.received).toBe(bytes);
  });

  test('big segments dropped on the underlay: stalled, with the retransmissions named', async ({ bringUp }) => {
    const r = await bringUp(TOPO('flannel-3node.yaml'));
    const t = r.topology;
    const n1 = t.nodes[0]!;
    const a = n1.pods[0]!;
    const b = t.nodes[1]!.pods[0]!;
    // outer packets over 600 bytes leaving node1's underlay link vanish: the handshake (small) passes, data does not
    await run(['nft', '-f', '-'], { ns: n1.ns, input: `table inet vxt_stall {\n  chain out {\n    type filter hook output priority 0;\n    oifname "${n1.underlayIf}" udp dport ${n1.vtep.port} ip length > 600 counter drop\n  }\n}\n` });
    const x = await tcpTransfer(a.ns, b.ns, b.ip, 1 << 20, 30_000, 5292, STALL_MS);
    expect(x.connected).toBe(true);
    expect(x.received).toBeLessThan(1 << 20);
    expect(x.error).toMatch(/^stalled: no data arrived for 500 ms after \d+ bytes while the sender retransmitted \(retrans \d+(, backoff \d+)?, unacked [1-9]\d*\)$/);
  });

  test('a sink that cannot start is the probe failing, named as such, not a pair that "never came up"', async ({ bringUp }) => {
    const r = await bringUp(TOPO('flannel-3node.yaml'));
    const t = r.topology;
    const a = t.nodes[0]!.pods[0]!;
    const b = t.nodes[1]!.pods[0]!;
    // the sink is asked to listen on an address its namespace does not have (node1's pod's, in node2's pod): it exits
    const x = await tcpTransfer(a.ns, b.ns, a.ip, 1 << 20, 10_000, 5293, STALL_MS);
    expect(x.probeError).toBe(true);
    expect(x.connected).toBe(false);
    expect(x.error).toMatch(new RegExp(`^vxlab's TCP sink did not start in ${b.ns}: it exited \\(code 1\\): error listen on ${a.ip.replace(/\./g, '\\.')}:5293: EADDRNOTAVAIL$`));
  });
});
