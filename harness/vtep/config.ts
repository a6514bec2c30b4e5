// Configuration of one userspace VTEP process (`node --import tsx harness/vtep/main.ts --config <file>`).
// Validated with zod; every error names the offending field.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { familyOf, mtuOverhead, parseIpv6 } from './addr.ts';

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

const mac = z.string().regex(MAC_RE, 'expected a MAC address aa:bb:cc:dd:ee:ff').transform((s) => s.toLowerCase());
const unicastMac = mac.refine((m) => (parseInt(m.slice(0, 2), 16) & 1) === 0, 'expected a unicast MAC (I/G bit clear)');
const ipAny = z.string().refine((s) => {
  if (!s.includes(':')) return IPV4_RE.test(s);
  try {
    parseIpv6(s);
    return true;
  } catch {
    return false;
  }
}, 'expected an IPv4 (dotted quad) or IPv6 address');
const port = z.number().int().min(1).max(65535);
const percent = z.number().min(0).max(100);

export interface VtepFaults {
  /** drop this percentage of frames read from the TAP before encapsulation (counted txFaultDrop) */
  txDropPercent?: number;
  /** drop this percentage of valid VXLAN packets received before decapsulation (counted rxFaultDrop) */
  rxDropPercent?: number;
  /** send with this VNI instead of the configured one */
  wrongVni?: number;
  /** send to this UDP destination port instead of `port` */
  wrongPort?: number;
  /** send with the I flag (0x08) cleared */
  clearIFlag?: boolean;
  /** use this outer UDP source port for every packet (no flow entropy) */
  fixedSrcPort?: number;
  /** never learn (overrides `learning: true`) */
  noLearning?: boolean;
  /** send with a wrong, non-zero outer UDP checksum (uses a raw IPPROTO_RAW socket) */
  corruptUdpChecksum?: boolean;
  /** seed of the deterministic PRNG used by the percentage faults (default 1) */
  seed?: number;
}

export interface VtepFdbStatic {
  /** remote VTEP MAC */
  mac: string;
  /** remote node underlay IP, in the family of `local` */
  dst: string;
  /** UDP destination port of that remote VTEP (default: `port`) */
  port?: number;
}

export interface VtepConfig {
  /** TAP device to create, e.g. `flannel.1` */
  dev: string;
  /** VTEP MAC set on the TAP */
  mac: string;
  /** TAP MTU (at most underlayMtu − 50 over an IPv4 underlay, − 70 over IPv6) */
  mtu: number;
  /** underlay IP of this node, IPv4 or IPv6: the UDP sockets bind here and their family follows it */
  local: string;
  underlayMtu: number;
  vni: number;
  /** UDP port to listen on and send to (default 4789) */
  port: number;
  learning: boolean;
  /** learned entries not refreshed for this long are removed (default 300) */
  ageingSec: number;
  fdb: VtepFdbStatic[];
  /** unix socket served by the process: send `stats\n`, get one JSON line back */
  controlPath?: string;
  /** optional JSON file the process rewrites every `statsIntervalMs` (and at exit) */
  statsFile?: string;
  statsIntervalMs: number;
  /** written (with a JSON body: pid, dev, ports) once the TAP is up and the sockets are bound */
  readyFile?: string;
  faults: VtepFaults;
  /** the process exits when this pid dies (PR_SET_PDEATHSIG + periodic kill(pid, 0)) */
  parentPid?: number;
  /** number of UDP source-port sockets for flow entropy (default 64) */
  srcPortSockets: number;
  /**
   * Use kernel offloads where the kernel grants them (default true): TAP IFF_VNET_HDR + TSO/CSUM
   * (segmented here), UDP_SEGMENT (GSO) sends, UDP_GRO receives. Each falls back on its own.
   * Off automatically for the txDropPercent and corruptUdpChecksum faults (per-frame semantics).
   */
  offloads: boolean;
}

export const vtepConfigSchema = z
  .object({
    dev: z.string().min(1).max(15).regex(/^[^\s/:]+$/, 'no whitespace, "/" or ":" in a device name'),
    mac: unicastMac,
    mtu: z.number().int().min(68).max(65535),
    local: ipAny,
    underlayMtu: z.number().int().min(118).max(65535),
    vni: z.number().int().min(0).max(0xffffff),
    port: port.default(4789),
    learning: z.boolean().default(false),
    ageingSec: z.number().positive().default(300),
    fdb: z.array(z.object({ mac: unicastMac, dst: ipAny, port: port.optional() }).strict()).default([]),
    controlPath: z.string().min(1).max(107).optional(),
    statsSocket: z.string().min(1).max(107).optional(),
    statsFile: z.string().min(1).optional(),
    statsIntervalMs: z.number().int().min(50).default(1000),
    readyFile: z.string().min(1).optional(),
    faults: z
      .object({
        txDropPercent: percent.optional(),
        rxDropPercent: percent.optional(),
        wrongVni: z.number().int().min(0).max(0xffffff).optional(),
        wrongPort: port.optional(),
        clearIFlag: z.boolean().optional(),
        fixedSrcPort: port.optional(),
        noLearning: z.boolean().optional(),
        corruptUdpChecksum: z.boolean().optional(),
        seed: z.number().int().optional(),
      })
      .strict()
      .default({}),
    parentPid: z.number().int().positive().optional(),
    srcPortSockets: z.number().int().min(1).max(1024).default(64),
    offloads: z.boolean().default(true),
  })
  .strict()
  .superRefine((c, ctx) => {
    const fam = familyOf(c.local);
    const over = mtuOverhead(fam);
    if (c.mtu > c.underlayMtu - over)
      ctx.addIssue({ code: 'custom', path: ['mtu'], message: `mtu ${c.mtu} > underlayMtu ${c.underlayMtu} − ${over} (VXLAN over IPv${fam}); inner frames would not fit` });
    c.fdb.forEach((e, i) => {
      if (familyOf(e.dst) !== fam) ctx.addIssue({ code: 'custom', path: ['fdb', i, 'dst'], message: `${e.dst} is not an IPv${fam} address like local ${c.local}; one VTEP speaks one underlay family` });
    });
    if (fam === 6 && c.faults.corruptUdpChecksum)
      ctx.addIssue({ code: 'custom', path: ['faults', 'corruptUdpChecksum'], message: 'not supported over an IPv6 underlay (it needs a raw IPv4 socket)' });
    const seen = new Map<string, string>();
    c.fdb.forEach((e, i) => {
      const prev = seen.get(e.mac);
      if (prev !== undefined && prev !== e.dst)
        ctx.addIssue({ code: 'custom', path: ['fdb', i, 'mac'], message: `${e.mac} listed twice with different dst (${prev}, ${e.dst})` });
      seen.set(e.mac, e.dst);
    });
    if (c.controlPath && c.statsSocket && c.controlPath !== c.statsSocket)
      ctx.addIssue({ code: 'custom', path: ['statsSocket'], message: 'statsSocket is an alias of controlPath; give one' });
  });

export class VtepConfigError extends Error {
  readonly code = 'VXLAB_VTEP_CONFIG';
  constructor(readonly issues: string[], where?: string) {
    super(`invalid VTEP config${where ? ` ${where}` : ''}:\n  ${issues.join('\n  ')}`);
    this.name = 'VtepConfigError';
  }
}

/** Validate a parsed JSON value; throws VtepConfigError listing every problem as `path: message`. */
export function parseVtepConfig(raw: unknown, where?: string): VtepConfig {
  const r = vtepConfigSchema.safeParse(raw);
  if (!r.success) {
    throw new VtepConfigError(
      r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`),
      where,
    );
  }
  const { statsSocket, ...rest } = r.data;
  const cfg: VtepConfig = { ...rest, controlPath: rest.controlPath ?? statsSocket };
  return cfg;
}

export function loadVtepConfig(path: string): VtepConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new VtepConfigError([`cannot read JSON: ${(e as Error).message}`], `in ${path}`);
  }
  return parseVtepConfig(raw, `in ${path}`);
}

/** The input shape (defaults optional), for callers writing a config file. */
export type VtepConfigInput = z.input<typeof vtepConfigSchema>;
