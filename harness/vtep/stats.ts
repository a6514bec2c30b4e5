// Counters of the userspace VTEP and how to read them from outside the process.
//
// Inside the process the counters live in one SharedArrayBuffer (Float64Array, exact up to 2^53);
// each counter has exactly one writer thread, so no atomics are needed on the hot path.
// Outside, `readVtepStats(path)` accepts either the control unix socket (`controlPath`: send
// `stats\n`, receive one JSON line) or a stats JSON file (`statsFile`, rewritten periodically).
import { readFile, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import type { FdbDumpEntry } from './fdb.ts';

export const COUNTER_NAMES = [
  // UDP → TAP (rx worker)
  'rxPackets', // VXLAN datagrams received on the UDP socket
  'rxBytes', // their UDP payload bytes
  'tapTxFrames', // inner frames written to the TAP
  'tapTxBytes',
  'runt',
  'noIFlag',
  'wrongVni',
  'reservedBitsSet', // counted, not dropped (RFC 7348: ignore reserved bits)
  'rxFaultDrop',
  'tapWriteError',
  'rxError',
  'learnedNew',
  'learnedMoved',
  'aged',
  // TAP → UDP (tx worker)
  'tapRxFrames', // frames read from the TAP
  'tapRxBytes',
  'txPackets', // VXLAN datagrams sent (replicated copies count one each)
  'txBytes', // their UDP payload bytes
  'tooBig',
  'unknownDst',
  'txFaultDrop',
  'sendError',
  'tapReadError',
  'replicated', // frames sent by head-end replication (BUM or unknown unicast)
  // offloads (0 when the kernel refused them or they are off)
  'tapRxTso', // TCP super-frames read from the TAP (counted once in tapRxFrames) and segmented here
  'tapTxGro', // coalesced TCP super-frames written to the TAP (their inner frames count in tapTxFrames)
  'txGso', // sendmsg calls that carried several datagrams with UDP_SEGMENT (GSO), either family
  'gsoRefused', // UDP_SEGMENT refused by the kernel (at start or on a send): datagrams then go one per syscall
  'groRefused', // UDP_GRO refused by the kernel: one datagram per message
  'rxGro', // UDP_GRO trains of two or more datagrams received in one message
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];
export type VtepCounters = Record<CounterName, number> & { faultDrop: number };

export const COUNTER_INDEX: Record<CounterName, number> = Object.fromEntries(COUNTER_NAMES.map((n, i) => [n, i])) as Record<CounterName, number>;
export const COUNTER_SLOTS = 32;

export function countersFrom(arr: Float64Array): VtepCounters {
  const o = {} as VtepCounters;
  for (let i = 0; i < COUNTER_NAMES.length; i++) o[COUNTER_NAMES[i]!] = arr[i]!;
  o.faultDrop = o.txFaultDrop + o.rxFaultDrop;
  return o;
}

export interface VtepFdbEntry extends FdbDumpEntry {
  /** true for config (permanent) entries */
  static: boolean;
}

export interface VtepStats {
  pid: number;
  dev: string;
  mac: string;
  local: string;
  /** underlay family (of `local`) */
  family?: 4 | 6;
  /** bytes VXLAN costs on this underlay: 50 over IPv4, 70 over IPv6 (TAP MTU ≤ underlayMtu − overhead) */
  overhead?: number;
  port: number;
  vni: number;
  mtu: number;
  underlayMtu: number;
  learning: boolean;
  faults: Record<string, unknown>;
  /** outer UDP source ports in use (the socket pool, or the fixed port) */
  srcPorts: number[];
  startedAt: string;
  uptimeSec: number;
  /** when this snapshot was taken (ISO) */
  at: string;
  counters: VtepCounters;
  fdb: VtepFdbEntry[];
}

/** Read a running VTEP's stats from its control socket, or from a stats JSON file. */
export async function readVtepStats(controlPathOrFile: string, timeoutMs = 3000): Promise<VtepStats> {
  const st = await stat(controlPathOrFile);
  if (!st.isSocket()) return JSON.parse(await readFile(controlPathOrFile, 'utf8')) as VtepStats;
  return JSON.parse(await controlRequest(controlPathOrFile, 'stats', timeoutMs)) as VtepStats;
}

/** One request line → one response line over the control socket. */
export function controlRequest(path: string, line: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let data = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`VTEP control socket ${path}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${line}\n`));
    sock.on('data', (d: string) => {
      data += d;
      const nl = data.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        sock.end();
        const body = data.slice(0, nl);
        if (body.startsWith('error ')) reject(new Error(`VTEP control socket ${path}: ${body.slice(6)}`));
        else resolve(body);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`VTEP control socket ${path}: ${e.message}`));
    });
    sock.on('end', () => {
      clearTimeout(timer);
      if (!data.includes('\n')) reject(new Error(`VTEP control socket ${path}: closed without an answer`));
    });
  });
}

const DROP_NAMES: CounterName[] = ['runt', 'noIFlag', 'wrongVni', 'tooBig', 'unknownDst', 'txFaultDrop', 'rxFaultDrop', 'tapWriteError', 'tapReadError', 'sendError', 'rxError'];

/** Human-readable rendering for `vxlab vtep stats`. */
export function formatVtepStats(s: VtepStats): string {
  const c = s.counters;
  const lines: string[] = [];
  lines.push(`${s.dev}  pid ${s.pid}  mac ${s.mac}  local ${s.family === 6 ? `[${s.local}]` : s.local}:${s.port}  vni ${s.vni}  mtu ${s.mtu}/${s.underlayMtu}  learning ${s.learning ? 'on' : 'off'}  up ${Math.round(s.uptimeSec)}s`);
  const faults = Object.entries(s.faults).filter(([, v]) => v !== undefined && v !== false);
  if (faults.length) lines.push(`  faults: ${faults.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  lines.push(`  rx: ${c.rxPackets} pkts ${c.rxBytes} bytes → tap ${c.tapTxFrames} frames ${c.tapTxBytes} bytes`);
  lines.push(`  tx: tap ${c.tapRxFrames} frames ${c.tapRxBytes} bytes → ${c.txPackets} pkts ${c.txBytes} bytes (replicated ${c.replicated})`);
  lines.push(`  drops: ${DROP_NAMES.map((n) => `${n} ${c[n]}`).join('  ')}`);
  lines.push(`  reservedBitsSet ${c.reservedBitsSet} (accepted)  learned new ${c.learnedNew} moved ${c.learnedMoved} aged ${c.aged}`);
  lines.push(`  fdb (${s.fdb.length}):`);
  for (const e of s.fdb) lines.push(`    ${e.mac} dst ${e.dst} ${e.static ? 'permanent' : `learned age ${e.ageSec ?? 0}s`}`);
  return lines.join('\n');
}
