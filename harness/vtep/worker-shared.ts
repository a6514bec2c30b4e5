// What the main thread hands each data-path worker.
import type { MessagePort } from 'node:worker_threads';
import type { VtepConfig } from './config.ts';

export interface WorkerInit {
  cfg: VtepConfig;
  tapFd: number;
  /** TAP frames carry a virtio_net_hdr (IFF_VNET_HDR) */
  vnetHdr: boolean;
  /** try the socket offloads (UDP_SEGMENT on tx, UDP_GRO on rx) */
  sockOffloads: boolean;
  /** counters, Float64Array view (see stats.ts) */
  counters: SharedArrayBuffer;
  /** Int32Array: [0] FDB update generation (rx → tx) */
  ctl: SharedArrayBuffer;
  /** rx → tx FDB updates */
  fdbPort: MessagePort;
}

export interface TxInit extends WorkerInit {
  /** UDP sockets (one per source port) and their bound ports */
  sockFds: number[];
  sockPorts: number[];
  /** IPPROTO_RAW socket when corruptUdpChecksum is on, else -1 */
  rawFd: number;
}

export interface RxInit extends WorkerInit {
  rxFd: number;
}

/** `addr`: the remote underlay IP as text (the numbers are per-thread for IPv6, see addr.ts) */
export type FdbUpdate = { op: 'set'; key: number; addr: string; lastSeen: number } | { op: 'del'; key: number };

export type WorkerToMain =
  | { type: 'ready'; role: 'rx' | 'tx' }
  | { type: 'fdb'; learned: Array<{ key: number; dst: string; lastSeen: number }> }
  | { type: 'fatal'; role: 'rx' | 'tx'; message: string };

/** mulberry32: small deterministic PRNG for the percentage faults. */
export function prng(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
