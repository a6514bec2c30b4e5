// ping probes: DF/MTU boundary and single reachability.
import { run } from '../util/exec.ts';
import { nsExists } from '../runtime/netns/runtime.ts';

/** frag-needed: an ICMP "fragmentation needed" came back (IPv4); packet-too-big: an ICMPv6 Packet Too Big (IPv6) */
export type DfOutcome = 'ok' | 'local-emsgsize' | 'frag-needed' | 'packet-too-big' | 'timeout' | 'error';

export interface DfResult {
  outcome: DfOutcome;
  /** the slowest answered round trip (ms), from ping's summary, if any was answered */
  rttMaxMs?: number;
  /** the MTU the error reported, if any */
  mtu?: number;
  output: string;
  ms: number;
}

/**
 * DF pings of `payload` bytes from `ns` to `dst` (`count` of them, `intervalSec` apart: 10 ms by default), bounded by
 * `waitSec` after the last. `ok` only if every one was answered: a size that passes once and then meets a path MTU the
 * first packet taught the kernel (the VXLAN driver lowers it as the packet leaves) does not fit.
 */
export async function pingDf(ns: string, dst: string, payload: number, waitSec = 2, count = 1, retryLoss = true, intervalSec = 0.01): Promise<DfResult> {
  // only the network namespace is entered (`nsenter --net`, as fping, ss and the TCP probe do): `ip netns exec` first
  // makes a mount namespace and remounts /sys, which waits on the kernel's mount lock while other runs create and
  // delete namespaces by the hundred — seconds that count against this bound, and a ping killed by it reads as silence
  const r = await run(['ping', '-n', '-c', String(count), '-i', String(intervalSec), '-W', String(waitSec), '-M', 'do', '-s', String(payload), dst], { ns, netOnly: nsExists(ns), reject: false, timeoutMs: Math.ceil((waitSec + 3 + count * intervalSec) * 1000) });
  const out = `${r.stdout}${r.stderr}`.trim();
  const mtu = Number(/mtu\s*[=:]?\s*(\d+)/i.exec(out)?.[1] ?? NaN);
  let outcome: DfOutcome;
  // iputils ping exits 0 if any reply came back: ok means every ping was answered
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
  const all = !m || m[1] === m[2];
  if (r.exitCode === 0 && all) outcome = 'ok';
  else if (/message too long/i.test(out)) outcome = 'local-emsgsize';
  else if (/frag needed/i.test(out)) outcome = 'frag-needed';
  else if (/packet too big/i.test(out)) outcome = 'packet-too-big';
  else if (/ 0 received/.test(out)) outcome = 'timeout';
  else outcome = 'error';
  const lines = out.split('\n').filter(Boolean);
  const stats = lines.find((l) => /packets transmitted/.test(l));
  const output = [...lines.slice(0, 3), ...(stats && !lines.slice(0, 3).includes(stats) ? [stats] : [])].join(' | ');
  // some answered, some silently lost, no ICMP error: a lost packet (a loaded machine, a userspace VTEP still
  // learning), not a size verdict — a path MTU the first packet taught would answer the next with an error, not
  // silence. Asked once more; the second answer stands, and the output says a retry was needed.
  if (retryLoss && outcome === 'error' && m && Number(m[2]) > 0) {
    const again = await pingDf(ns, dst, payload, waitSec, count, false, intervalSec);
    return { ...again, output: `${again.output} (retried: the first try lost ${Number(m[1]) - Number(m[2])} of ${m[1]} with no ICMP error)`, ms: r.durationMs + again.ms };
  }
  const rtt = /rtt min\/avg\/max\/mdev = [\d.]+\/[\d.]+\/([\d.]+)\//.exec(out);
  return { outcome, mtu: Number.isNaN(mtu) ? undefined : mtu, output, ms: r.durationMs, rttMaxMs: rtt ? Number(rtt[1]) : undefined };
}

/**
 * The PMTU probe burst of the kernel's pmtu.sh (`ping -M want -i 0.1 -w 1`), with DF: `count` DF pings 100 ms apart,
 * waiting at most `waitSec` after the last. The first oversize packet may be the one that teaches a path MTU (its
 * frag-needed / Packet Too Big comes back, or the VXLAN driver lowers the PMTU as it leaves) and is lost; the later
 * ones, sent after that answer had time to arrive (an ICMP error from a router namespace is kernel-to-kernel: microseconds), meet the learned MTU and fail loudly ("message too long"). So one
 * burst replaces "probe, wait out a timeout, probe again": a size is silent only if every packet of the burst was.
 */
export function pingDfBurst(ns: string, dst: string, payload: number, count = 3, waitSec = 1): Promise<DfResult> {
  return pingDf(ns, dst, payload, waitSec, count, true, 0.1);
}
