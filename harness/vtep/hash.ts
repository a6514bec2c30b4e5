// Outer UDP source port from the inner flow (RFC 7348 §5: "a hash of fields from the inner packet",
// in the dynamic/private range 49152–65535). Pure, no allocation on the hot path.

export const SRC_PORT_MIN = 49152;
export const SRC_PORT_MAX = 65535;

const ETH_P_IPV4 = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const ETH_P_8021Q = 0x8100;

function mix(h: number, v: number): number {
  // murmur3-style round
  v = Math.imul(v, 0xcc9e2d51);
  v = (v << 15) | (v >>> 17);
  v = Math.imul(v, 0x1b873593);
  h ^= v;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function rd16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
function rd32(b: Uint8Array, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}

/**
 * 32-bit hash of an inner Ethernet frame's flow: MACs + EtherType always; for IPv4/IPv6 the
 * addresses and protocol, and for TCP/UDP/SCTP/UDP-Lite (non-fragment) the ports as well.
 * Both directions of a flow hash differently (like Linux's skb flow hash, it is not symmetric).
 */
export function flowHash(frame: Uint8Array, off: number, len: number, seed = 0x5bd1e995): number {
  let h = seed | 0;
  if (len < 14) return fmix(mix(h, len));
  h = mix(h, rd32(frame, off));
  h = mix(h, rd32(frame, off + 4));
  h = mix(h, rd32(frame, off + 8));
  let p = off + 12;
  let et = rd16(frame, p);
  p += 2;
  if (et === ETH_P_8021Q && off + len >= p + 4) {
    h = mix(h, rd16(frame, p) & 0x0fff);
    et = rd16(frame, p + 2);
    p += 4;
  }
  h = mix(h, et);
  const end = off + len;
  let proto = -1;
  let l4 = -1;
  if (et === ETH_P_IPV4 && end >= p + 20) {
    const ihl = (frame[p]! & 0xf) * 4;
    proto = frame[p + 9]!;
    h = mix(h, rd32(frame, p + 12));
    h = mix(h, rd32(frame, p + 16));
    h = mix(h, proto);
    const frag = rd16(frame, p + 6) & 0x3fff; // MF or offset → no ports
    if (frag === 0 && ihl >= 20) l4 = p + ihl;
  } else if (et === ETH_P_IPV6 && end >= p + 40) {
    proto = frame[p + 6]!;
    for (let i = 8; i < 40; i += 4) h = mix(h, rd32(frame, p + i));
    h = mix(h, proto);
    h = mix(h, rd32(frame, p) & 0x000fffff); // flow label
    l4 = p + 40;
  }
  if (l4 >= 0 && end >= l4 + 4 && (proto === 6 || proto === 17 || proto === 132 || proto === 136)) {
    h = mix(h, rd32(frame, l4));
  }
  return fmix(h);
}

/** Map a 32-bit hash onto [min, max] the way Linux's udp_flow_src_port does (multiply-shift). */
export function srcPortFromHash(hash: number, min = SRC_PORT_MIN, max = SRC_PORT_MAX): number {
  return min + Math.floor(((hash >>> 0) * (max - min + 1)) / 0x100000000);
}

/** Index into a pool of `n` source-port sockets. */
export function poolIndexFromHash(hash: number, n: number): number {
  return Math.floor(((hash >>> 0) * n) / 0x100000000);
}

/**
 * The ports a pool of `n` sockets should try to bind: spread evenly over [min, max]. The caller
 * tries the next port up on EADDRINUSE.
 */
export function poolPorts(n: number, min = SRC_PORT_MIN, max = SRC_PORT_MAX): number[] {
  const span = max - min + 1;
  return Array.from({ length: n }, (_, i) => min + Math.floor((i * span) / n));
}
