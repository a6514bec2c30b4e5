// The one schema. TypeScript types, the JSON Schema for editors (topologies/vxlab.schema.json)
// and the README's topology reference all come from here.
// a namespace import, not { z }: the CLI bundle (scripts/build.mjs) then keeps only the parts of zod the schema uses
import * as z from 'zod';
import { runtimeNames } from '../runtime/resolve.ts';

import { STATIC_POD_NEIGH_AUTO_ENTRIES, STATIC_ARP_AUTO_NODES, SYSCTL_KEY_RE } from './constants.ts';
export { STATIC_ARP_AUTO_NODES, STATIC_POD_NEIGH_AUTO_ENTRIES, SYSCTL_KEY_RE };
export const NAME_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
/** Names become part of namespace names (at most 254 bytes): each is bounded like a DNS label. */
export const NAME_MAX = 63;
/** Pods per node, as a count or as a list of names. */
export const MAX_PODS_PER_NODE = 250;
const name = (what: string) =>
  z
    .string()
    .max(NAME_MAX, { error: `expected a ${what} name of at most ${NAME_MAX} characters` })
    .regex(NAME_RE, { error: `expected a ${what} name: lowercase letters, digits and '-' ([a-z0-9-]+)` });
// either family; the family follows from the text (normalize checks the numbers and which family fits where)
const CIDR_ERR = 'expected an IPv4 CIDR like 192.168.1.0/24 or an IPv6 CIDR like fd00:0:1::/64';
const cidr = z.string().regex(/^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9a-fA-F:]*:[0-9a-fA-F:]*\/\d{1,3})$/, { error: CIDR_ERR });
const ipAddr = z.string().regex(/^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:]*)$/, { error: 'expected an IPv4 address like 192.168.1.2 or an IPv6 address like fd00:0:1::2' });
/** one CIDR (one family) or a list of one or two (IPv4, IPv6 or dual-stack) */
const cidrs = (what: string) =>
  z.union([cidr, z.array(cidr).min(1).max(2)], {
    error: (iss) => (Array.isArray(iss.input) ? `expected a list of one or two ${what} CIDRs (one per family), each like 10.244.0.0/16 or fd00:10:244::/56` : CIDR_ERR),
  });
const prefixLen = z.number({ error: 'expected a prefix length' }).int().min(8, { error: 'expected a prefix length ≥ 8' }).max(126, { error: 'expected a prefix length ≤ 126 (IPv4: ≤ 30)' });
const mac = z
  .string()
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, { error: 'expected a MAC address like 02:00:00:00:00:01' });
const mtu = z.number({ error: 'expected an integer MTU' }).int().min(1280, { error: 'expected an MTU ≥ 1280' }).max(65535, { error: 'expected an MTU ≤ 65535' });
const vni = z.number({ error: 'expected an integer VNI' }).int().min(0, { error: 'expected a VNI in 0–16777215' }).max(16777215, { error: 'expected a VNI in 0–16777215' });
const port = z.number({ error: 'expected an integer port' }).int().min(1, { error: 'expected a port in 1–65535' }).max(65535, { error: 'expected a port in 1–65535' });

// the runtime registry is the one list of runtimes: a new runtime is a folder under harness/runtime/ plus its line there
export const RUNTIMES = runtimeNames() as [string, ...string[]];
const imageRef = z.string().regex(/^[a-z0-9][a-z0-9._\/:@-]*$/i, { error: 'expected a local image reference like vxlab-node:abc123 or my/image:tag' });
export const LAYOUTS = ['flannel', 'calico'] as const;
export const VTEPS = ['kernel', 'userspace'] as const;

export const SegmentSchema = z
  .strictObject({
    name: name('segment').describe('Segment name; one segment is one L2 network (a bridge in its own namespace).'),
    cidr: cidr.describe('Underlay subnet of this segment. The family (IPv4 or IPv6) follows from the CIDR; all segments of a topology share one family.'),
    mtu: mtu.optional().describe('MTU of every link on this segment (default: underlay.mtu).'),
    routerMtu: mtu.optional().describe("MTU of the router's link into this segment (default: mtu). Smaller than mtu = a narrow middle link."),
  })
  .describe('An underlay L2 segment. Two or more segments make a routed L3 underlay through a router namespace.');

export const DF_VALUES = ['unset', 'set', 'inherit'] as const;

const overlayCommon = {
  vni: vni.optional().describe('VXLAN network identifier (default 1; calico layout: 4096).'),
  port: port.optional().describe('UDP destination port, written explicitly to the device (default 4789; the kernel default would be 8472).'),
  mtu: z.union([z.literal('auto'), mtu], { error: "expected 'auto' or an MTU (integer 1280–65535)" }).optional().describe("Overlay (VTEP) MTU: 'auto' = the node's underlay link MTU − 50 (IPv4 underlay) or − 70 (IPv6 underlay), or a number."),
  podMtu: z.union([z.literal('auto'), mtu], { error: "expected 'auto' or an MTU (integer 1280–65535)" }).optional().describe("MTU of pod eth0: 'auto' = the overlay MTU. Set it larger to reproduce an MTU black hole."),
  learning: z.boolean().optional().describe('Learn FDB entries from received packets (default false: nolearning, as flannel).'),
  df: z.enum(DF_VALUES).optional().describe('DF bit of outer packets: unset (flannel default) | set | inherit.'),
};

export const CniSchema = z
  .strictObject({
    binDir: z.array(z.string()).min(1).optional().describe('Directories searched for plugin binaries (default [/usr/lib/cni, /opt/cni/bin]).'),
    conflist: z.string().optional().describe('Path to a .conflist (relative to the topology file).'),
    config: z.record(z.string(), z.unknown()).optional().describe('An inline conflist object, instead of conflist.'),
  })
  .describe('Attach pods with a CNI plugin chain instead of the built-in veth/bridge.');

export const BUILDERS = ['vxlab', 'external'] as const;
/** Calico's IPPool vxlanMode values vxlab models (Never = no VXLAN at all, out of vxlab's scope) */
export const VXLAN_MODES = ['Always', 'CrossSubnet'] as const;
const directRouting = z.boolean({ error: 'expected true or false' });

export const SetupStepSchema = z
  .strictObject({
    command: z.array(z.string().min(1), { error: 'expected an argv list like [./my-agent, --iface, eth0] (no shell string)' }).min(1, { error: 'expected an argv list like [./my-agent, --iface, eth0]' }).describe("argv (no shell), run inside the node's network namespace with the topology file's directory as working directory and the node's facts in VXLAB_* variables."),
    daemon: z.boolean().optional().describe('Keep it running for the whole run (default false: run it to completion, exit 0 expected); stopped with SIGTERM, then SIGKILL, at down.'),
    timeoutSec: z.number().int().min(1).max(3600).optional().describe('A step that is not a daemon is killed after this many seconds (default 60).'),
    ready: z
      .strictObject({
        device: z.string().min(1).max(15).optional().describe('up waits until this device exists in the node namespace.'),
        command: z.array(z.string().min(1), { error: 'expected an argv list (no shell string)' }).min(1).optional().describe('up waits until this argv (same namespace, env and cwd) exits 0.'),
        timeoutSec: z.number().int().min(1).max(600).optional().describe('Give up (and roll back) after this many seconds (default 30).'),
      })
      .optional()
      .describe('When the step counts as done: a device that exists and/or a command that exits 0, polled.'),
  })
  .describe('One program of an external control plane.');

export const OverlaySchema = z
  .strictObject({
    layout: z.enum(LAYOUTS, { error: `expected one of: ${LAYOUTS.join(', ')}` }).optional().describe('Which CNI data plane to build: flannel (flannel.<vni> / flannel-v6.<vni>, cni0 bridge) or calico (vxlan.calico / vxlan-v6.calico, /32 and /128 pods).'),
    vtep: z.enum(VTEPS, { error: `expected one of: ${VTEPS.join(', ')}` }).optional().describe('kernel vxlan device, or vxlab\'s userspace VTEP (TAP + UDP).'),
    ...overlayCommon,
    podCidr: cidrs('pod').optional().describe('Cluster pod CIDR (default 10.244.0.0/16): one CIDR, or a list of one or two — IPv4, IPv6 or dual-stack (at most one per family).'),
    nodeCidrSize: z
      .union([prefixLen, z.array(prefixLen).min(1).max(2)], { error: 'expected a prefix length, or a list of them matching podCidr' })
      .optional()
      .describe("Prefix length of each node's pod subnet (default 24 for IPv4, 64 for IPv6): a number, or a list matching podCidr."),
    directRouting: directRouting.optional().describe("flannel (net-conf Backend.DirectRouting): a peer on the node's own underlay subnet gets a plain route `<its pod subnet> via <its node IP> dev eth0` and no VXLAN entries; other peers are reached over VXLAN (default false)."),
    vxlanMode: z.enum(VXLAN_MODES, { error: `expected one of: ${VXLAN_MODES.join(', ')}` }).optional().describe("calico (the IPPool's vxlanMode): Always (default) tunnels every peer; CrossSubnet routes a peer on the same underlay subnet unencapsulated (`<block> via <its node IP> dev eth0 proto 80`) and tunnels the others."),
    cni: CniSchema.optional(),
    staticPodNeighbours: z
      .union([z.literal('auto'), z.boolean()], { error: 'expected auto, true or false' })
      .optional()
      .describe(`Write the pods' neighbour entries as permanent ones (each pod: its gateway and, flannel, the other pods of its node; each node: its pods), with deterministic MACs on pod eth0 and cni0, instead of resolving them by ARP/ND. auto (default): on when the pods' dynamic entries of one family would pass ${STATIC_POD_NEIGH_AUTO_ENTRIES} (about two per pod, plus the pairs of pods sharing a flannel node) — the kernel's neighbour table is shared by all namespaces and its gc_thresh3 (1024 by default, settable only in the root namespace) counts every dynamic entry; a full table drops the packets that need a new one. Not with overlay.cni (the plugin attaches the pods).`),
    builder: z.enum(BUILDERS, { error: `expected one of: ${BUILDERS.join(', ')}` }).optional().describe("Who programs the VXLAN overlay: vxlab (default) or external — the setup programs (your CNI's daemon); the layout then names the shape to expect and the nodes' VTEP identities are read from the live nodes."),
    setup: z.array(SetupStepSchema).optional().describe("builder: external: programs run in every node's namespace once the underlay is up, in order, before pods are attached."),
  })
  .describe('The VXLAN overlay between nodes.');

export const NodeOverlaySchema = z
  .strictObject({
    ...overlayCommon,
    vtepMac: mac.optional().describe('VTEP MAC of this node.'),
    directRouting: directRouting.optional().describe("flannel: this node's own flanneld setting (default overlay.directRouting) — a node still running an older net-conf during a rollout."),
  })
  .describe('Per-node overrides of overlay settings (port, vni, mtu, podMtu, vtepMac, learning, df, directRouting).');

export const VtepFaultsSchema = z.strictObject({
  txDropPercent: z.number().min(0).max(100).optional(),
  rxDropPercent: z.number().min(0).max(100).optional(),
  wrongVni: vni.optional(),
  wrongPort: port.optional(),
  clearIFlag: z.boolean().optional(),
  fixedSrcPort: port.optional(),
  noLearning: z.boolean().optional(),
  corruptUdpChecksum: z.boolean().optional(),
});

// sysctls inside vxlab's namespaces (never the host's): network sysctls only, values as sysctl -w takes them
export const SysctlsSchema = z
  .record(z.string(), z.union([z.string(), z.number()], { error: 'expected a value like 1 or "2"' }))
  .describe("Sysctls written inside the node's namespace after up's own (key → value); write '.' in an interface name as '/'.");
export const NodeSchema = z
  .strictObject({
    name: name('node').describe('Node name; part of namespace names.'),
    segment: name('segment').optional().describe('Underlay segment (default: the first).'),
    ip: ipAddr.optional().describe("Underlay IP, in the segment's family (default: next free host address in the segment, from .2 / ::2)."),
    podSubnet: cidrs('pod subnet').optional().describe('Pod subnet, or one per family of podCidr (default: the k-th /nodeCidrSize of podCidr for the k-th node, k from 1).'),
    vtepMac: mac.optional().describe('VTEP MAC (default: deterministic from topology name + node name).'),
    vtep: z.enum(VTEPS, { error: `expected one of: ${VTEPS.join(', ')}` }).optional().describe('Per-node VTEP kind (default: overlay.vtep).'),
    pods: z
      .union(
        [
          z.number().int().min(0).max(MAX_PODS_PER_NODE, { error: `expected at most ${MAX_PODS_PER_NODE} pods` }),
          z.array(name('pod')).max(MAX_PODS_PER_NODE, { error: `expected at most ${MAX_PODS_PER_NODE} pods` }),
        ],
        {
          error: (iss) =>
            Array.isArray(iss.input) && iss.input.length > MAX_PODS_PER_NODE
              ? `expected at most ${MAX_PODS_PER_NODE} pods (got a list of ${iss.input.length})`
              : 'expected a pod count or a list of pod names',
        },
      )
      .optional()
      .describe('A count (pod1, pod2, …) or a list of names (default 1).'),
    overlay: NodeOverlaySchema.optional(),
    image: imageRef.optional().describe('docker/kind: the image of this node\'s container (default: the top-level image).'),
    setup: z.array(SetupStepSchema).optional().describe('builder: external: programs for this node only, run after overlay.setup.'),
    sysctls: SysctlsSchema.optional(),
  })
  .describe('A Kubernetes-style node: its own namespace, an underlay link, a VTEP, a pod bridge and pods.');

const faultBase = { node: name('node') };
/** delete-route / delete-neigh: the pod family to break (dual-stack pods have one entry per family) */
const podFamily = (what: string) =>
  z
    .union([z.literal(4), z.literal(6)], { error: 'expected 4 or 6' })
    .optional()
    .describe(`dual-stack pods: only this family's ${what} (4 or 6; default: every pod family's)`);
export const FAULT_KINDS = [
  'underlay-mtu', 'drop-udp-port', 'drop-icmp-frag-needed', 'loss', 'vtep-mac-change', 'delete-route', 'delete-fdb', 'delete-neigh', 'link-down', 'tx-checksum', 'vtep',
] as const;
export const FaultSchema = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ kind: z.literal('underlay-mtu'), ...faultBase, mtu: mtu.describe('new MTU of the node\'s underlay eth0 (and its peer)') }),
    z.strictObject({ kind: z.literal('drop-udp-port'), ...faultBase, port, direction: z.enum(['in', 'out', 'both']).optional() }),
    z.strictObject({ kind: z.literal('drop-icmp-frag-needed'), ...faultBase, direction: z.enum(['in', 'out', 'both']).optional().describe("out (default): the errors the node sends; in: the errors it receives (a host firewall that drops ICMP). Both families: ICMP frag-needed and ICMPv6 Packet Too Big") }),
    z.strictObject({ kind: z.literal('loss'), ...faultBase, percent: z.number().min(0).max(100) }),
    z.strictObject({ kind: z.literal('vtep-mac-change'), ...faultBase, mac }),
    z.strictObject({ kind: z.literal('delete-route'), ...faultBase, peer: name('node'), family: podFamily('route') }),
    z.strictObject({ kind: z.literal('delete-fdb'), ...faultBase, peer: name('node') }),
    z.strictObject({ kind: z.literal('delete-neigh'), ...faultBase, peer: name('node'), family: podFamily('neighbour entry for the peer\'s VTEP address') }),
    z.strictObject({ kind: z.literal('link-down'), ...faultBase, link: z.string() }),
    z.strictObject({ kind: z.literal('tx-checksum'), ...faultBase, link: z.string(), offload: z.enum(['on', 'off']) }),
    z.strictObject({ kind: z.literal('vtep'), ...faultBase, ...VtepFaultsSchema.shape }),
  ],
  { error: `expected a fault with kind one of: ${FAULT_KINDS.join(', ')}` },
);

export const ExpectResultSchema = z.union([
  z.enum(['pass', 'fail', 'skip']),
  z.strictObject({ result: z.enum(['pass', 'fail', 'skip']), message: z.string().optional() }),
], { error: "expected pass | fail | skip, or { result, message }" });

export const ExternalCheckSchema = z.strictObject({
  name: name('check').describe('Id suffix: results appear as external/<name>/…'),
  command: z.array(z.string()).min(1).describe('argv of a TAP-producing script, run with the topology file\'s directory as cwd'),
  timeoutSec: z.number().int().min(1).max(600).optional().describe('Kill the script after this many seconds (default 60).'),
});

// steps: what happens after up (nodes restart, leave, join, change address) and checks in between (harness/steps/)
export const STEP_ACTIONS = ['restart-node', 'remove-node', 'add-node', 'change-node-ip'] as const;
export const DURATION_RE = /^\d+(\.\d+)?(ms|s)$/;
export const StepSchema = z
  .strictObject({
    action: z.enum(STEP_ACTIONS, { error: `expected an action, one of: ${STEP_ACTIONS.join(', ')}` }).optional().describe('What happens: restart-node (the VTEP is recreated, optionally with newMac), remove-node, add-node, change-node-ip. A step has an action or a check list, not both.'),
    node: z
      .union([name('node'), NodeSchema], { error: 'expected a node name (restart-node, remove-node, change-node-ip) or a node object like { name: node4, pods: 1 } (add-node)' })
      .optional()
      .describe('The node the action concerns; for add-node the new node, written like an entry of nodes:.'),
    newMac: mac.optional().describe('restart-node: the VTEP MAC the node comes back with (default: unchanged).'),
    ip: ipAddr.optional().describe("change-node-ip: the node's new underlay address (in the same segment)."),
    check: z.array(z.string().min(1)).min(1, { error: 'expected a list of suites or check ids like [connectivity, routes/fdb]' }).optional().describe('Run these suites or checks here (after the actions before it).'),
    within: z.union([z.string().regex(DURATION_RE, { error: "expected a duration like 5s or 500ms" }), z.number().min(0)], { error: 'expected a duration like 5s or 500ms' }).optional().describe('Retry the checks until they pass or this much time has passed since the step started (default: run once). The time they took is reported.'),
    expect: z.record(z.string(), ExpectResultSchema).optional().describe("check id or suite → pass | fail | skip, judged on this step's checks."),
  })
  .describe('One step after up: an action of the control plane, or checks (retried until they pass or `within` runs out).');

export const ControlSchema = z
  .strictObject({
    removeDepartedFdb: z.boolean().optional().describe("remove-node: peers delete the departed node's FDB entry (default true; false stages calico#7281)."),
    removeDepartedRoutes: z.boolean().optional().describe("remove-node: peers delete the route to the departed node's pod subnet (default true)."),
    removeDepartedNeighbours: z.boolean().optional().describe("remove-node: peers delete the departed node's VTEP neighbour entry (default true)."),
    updateChangedMac: z.boolean().optional().describe("restart-node with newMac: peers replace the node's neighbour and FDB entries (default true; false stages flannel#1795)."),
    updateChangedIp: z.boolean().optional().describe("change-node-ip: peers replace the dst of the node's FDB entry (default true)."),
  })
  .describe("How vxlab's control plane reconciles steps (default: as flannel and felix do: replace, and delete what belonged to a departed peer). false turns on a real bug's behaviour.");

export const HOST_PROFILES = ['rp-filter-strict', 'rp-filter-loose'] as const;

export const TopologySchema = z
  .strictObject({
    extends: z.string().optional().describe('Another topology file to inherit from; maps merge, lists of named things merge by name.'),
    name: name('topology').describe('Topology name ([a-z0-9-]+); part of namespace names.'),
    runtime: z.enum(RUNTIMES, { error: `expected one of: ${RUNTIMES.join(', ')}` }).optional().describe('Where nodes live: netns (default: network namespaces), docker (one container per node, segments are Docker networks) or kind (a kind cluster; nodes are its node containers).'),
    image: imageRef.optional().describe('docker/kind: the image of every node container (docker default: a minimal image vxlab builds locally, without a registry; docker images must be present locally, vxlab never pulls. kind default: kind\'s own node image).'),
    underlay: z
      .strictObject({
        mtu: mtu.optional().describe('Default MTU of every underlay link (default 1500).'),
        segments: z.array(SegmentSchema).min(1).optional().describe('Default: one segment rack1 192.168.1.0/24.'),
        staticArp: z
          .union([z.literal('auto'), z.boolean()], { error: 'expected auto, true or false' })
          .optional()
          .describe(`Write the nodes' underlay neighbours as permanent entries instead of resolving them by ARP. auto (default): on for segments with more than ${STATIC_ARP_AUTO_NODES} nodes — the kernel's neighbour table is shared by all namespaces and its gc_thresh3 (1024 by default, settable only in the root namespace) overflows with a full mesh of dynamic entries; permanent entries are not counted. On a routed underlay (netns runtime) the router's entries for the segment's nodes, and theirs for it, are permanent too.`),
        ipv6LinkLocal: z
          .union([z.literal('auto'), z.boolean()], { error: 'expected auto, true or false' })
          .optional()
          .describe(`IPv6 on the links of an IPv4 underlay segment (netns runtime: the nodes' eth0, the segment bridge and its ports, the router's port): true keeps the kernel's default (a link-local address each, with duplicate address detection, MLD reports and router solicitations, every one flooded by the segment bridge to every port), false turns IPv6 off on them (disable_ipv6, before they come up). auto (default): off on segments where staticArp is on — all nodes share the host's CPUs, so that flood costs N² deliveries on one machine (at 1,000 nodes, a fifth of up's CPU). The overlay and the pods keep IPv6 whatever this says; an IPv6 segment always has it.`),
      })
      .optional()
      .describe('The L3 underlay: segments (bridges in their own namespaces), routed through a router namespace when there are several.'),
    overlay: OverlaySchema.optional(),
    nodes: z.array(NodeSchema).min(1, { error: 'expected at least one node' }),
    faults: z.array(FaultSchema).optional().describe('Applied after up, in order; each is undone by down.'),
    expect: z.record(z.string(), ExpectResultSchema).optional().describe('check id or suite → pass | fail | skip (with an optional message pattern).'),
    checks: z.array(ExternalCheckSchema).optional().describe('External TAP-producing scripts included as subtests.'),
    sysctls: SysctlsSchema.optional(),
    hostProfile: z.enum(HOST_PROFILES, { error: `expected one of: ${HOST_PROFILES.join(', ')}` }).optional().describe("Distribution defaults inside every node: rp-filter-strict (net.ipv4.conf.{all,default}.rp_filter = 1, as RHEL/CentOS ship) or rp-filter-loose (= 2, systemd's 50-default.conf on Debian/Ubuntu). sysctls: win over it."),
    steps: z.array(StepSchema).optional().describe('Applied after up and faults, in order: actions (nodes restart, leave, join, change address) and checks in between.'),
    control: ControlSchema.optional(),
  })
  .describe('A vxlab topology (format v1).');

export type Topology = z.infer<typeof TopologySchema>;
export type TopoNode = z.infer<typeof NodeSchema>;
export type Fault = z.infer<typeof FaultSchema>;
export type ExpectResult = z.infer<typeof ExpectResultSchema>;
export type VtepFaults = z.infer<typeof VtepFaultsSchema>;
export type SetupStep = z.infer<typeof SetupStepSchema>;
export type Step = z.infer<typeof StepSchema>;
export type Control = z.infer<typeof ControlSchema>;

export function jsonSchema(): unknown {
  return z.toJSONSchema(TopologySchema, { target: 'draft-2020-12' });
}
