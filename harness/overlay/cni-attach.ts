// Attaching pods with a CNI plugin chain (topology key overlay.cni), as a container runtime would:
// vxlab builds the node-level VXLAN overlay itself (what flanneld / calico-node would program), then
// calls CNI ADD for every pod namespace from inside its node namespace. The pods' real addresses,
// host-side interfaces and MTUs come from the ADD results and replace normalize's guesses in the
// ResolvedTopology, so the suites check what the plugin built.
//
// Everything a later `down` needs (per-node effective conflists, attachments, their state) is kept
// in <workDir>/cni/attachments.json, written before each ADD; teardown DELs from it in reverse order.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../util/errors.ts';
import {
  type CniResult,
  CniConfigError,
  CniRuntime,
  CniRuntimeError,
  cidrContains,
  type Conflist,
  findPlugin,
  injectSubnet,
  loadConflist,
  setIpamDataDir,
  validateConflist,
} from '../cni/runtime.ts';
import type { ResolvedNode, ResolvedPod, ResolvedTopology } from '../topology/resolved.ts';
import { ipJson, pool, run } from '../util/exec.ts';
import type { RunState } from '../runtime/state.ts';

/** Bad CNI input (missing conflist, unknown field, plugin not in binDir): a usage error, exit code 2. */
export class CniInputError extends UsageError {}

/** Main (interface-creating) plugins that take an `mtu` field. */
export const MTU_PLUGINS = new Set(['bridge', 'ptp', 'macvlan', 'ipvlan', 'vlan']);

export const NETNS_DIR = '/var/run/netns';

export interface PreparedCni {
  /** where the list came from: an absolute file path, or "<overlay.cni.config>" */
  source: string;
  list: Conflist;
  binDirs: string[];
  /** type of plugins[0], the plugin that creates the pod interface */
  mainType: string;
  hasHostLocal: boolean;
}

export type CniSpec = NonNullable<ResolvedTopology['cni']>;

function hostLocal(list: Conflist): boolean {
  return list.plugins.some((p) => p.ipam?.type === 'host-local');
}

/**
 * Load and validate the conflist and find every plugin it names, before anything on the host changes.
 * `origin` says where the setting came from in messages ("--conflist", "topo.yaml: overlay.cni").
 * Throws CniInputError naming the file and the field.
 */
export async function prepareCni(cni: CniSpec, origin = 'overlay.cni'): Promise<PreparedCni> {
  let list: Conflist;
  let source: string;
  try {
    if (cni.conflist) {
      source = cni.conflist;
      list = await loadConflist(cni.conflist);
    } else if (cni.config) {
      source = `${origin}.config`;
      list = validateConflist(cni.config, source);
    } else throw new CniInputError(`${origin}: expected conflist: FILE or config: {…}`);
  } catch (e) {
    if (e instanceof CniConfigError) throw new CniInputError(`${origin}: ${e.message}`);
    throw e;
  }
  for (const [i, p] of list.plugins.entries()) {
    for (const [field, type] of [[`plugins[${i}].type`, p.type], [`plugins[${i}].ipam.type`, p.ipam?.type]] as const) {
      if (typeof type !== 'string' || !type) continue;
      try {
        await findPlugin(type, cni.binDir);
      } catch (e) {
        if (e instanceof CniRuntimeError) throw new CniInputError(`${origin}: ${source}: ${field}: ${e.message}`);
        throw e;
      }
    }
  }
  return { source, list, binDirs: [...cni.binDir], mainType: list.plugins[0]!.type, hasHostLocal: hostLocal(list) };
}

/** The layout a conflist implies when nothing else decides: ptp (routed /32 pods) → calico, anything else → flannel. */
export function layoutForConflist(list: Conflist): 'flannel' | 'calico' {
  return list.plugins[0]?.type === 'ptp' ? 'calico' : 'flannel';
}

export function cniDir(workDir: string): string {
  return join(workDir, 'cni');
}
/** per-node CNI dir: holds `ipam` (host-local dataDir) and `cache` (ADD results) */
export function nodeCniDir(workDir: string, node: string): string {
  return join(cniDir(workDir), node);
}

/**
 * The conflist a node's pods are ADDed with: the node's pod subnet injected into host-local ranges,
 * the pod MTU as the main plugin's `mtu` (if it takes one and the user set none), `isGateway: true`
 * for a bridge that does not say, and a per-run host-local dataDir.
 */
export function nodeConflist(prep: PreparedCni, n: ResolvedNode, ipamDir: string): Conflist {
  let list: Conflist = prep.hasHostLocal ? injectSubnet(prep.list, n.podSubnet) : (JSON.parse(JSON.stringify(prep.list)) as Conflist);
  const main = list.plugins[0]!;
  if (MTU_PLUGINS.has(main.type) && main.mtu === undefined) main.mtu = n.pods[0]?.mtu ?? n.vtep.mtu;
  if (main.type === 'bridge' && main.isGateway === undefined) main.isGateway = true;
  if (prep.hasHostLocal) list = setIpamDataDir(list, ipamDir);
  return list;
}

export function containerIdFor(t: ResolvedTopology, p: ResolvedPod): string {
  return `${t.runId}-${p.node}-${p.name}`;
}

// --- the attachment record --------------------------------------------------------------------

export interface PodAttachment {
  node: string;
  pod: string;
  ns: string;
  containerId: string;
  ifName: string;
  /** adding: ADD started (DEL it on teardown); added: ADD succeeded; deleted: DEL succeeded */
  state: 'adding' | 'added' | 'deleted';
  result?: CniResult;
  /** what vxlab took from the result (and the kernel) */
  attached?: { ip: string; prefixLen: number; gateway: string; hostIf: string; mtu: number; /** bridge the host side is enslaved to */ hostMaster?: string };
}

export interface AttachmentFile {
  kind: 'vxlab-cni-attachments-v1';
  binDirs: string[];
  timeoutMs: number;
  nodes: { node: string; nodeNs: string; dir: string; conflist: Conflist }[];
  pods: PodAttachment[];
}

export function attachmentsPath(workDir: string): string {
  return join(cniDir(workDir), 'attachments.json');
}

export function readAttachments(workDir: string): AttachmentFile | undefined {
  try {
    return JSON.parse(readFileSync(attachmentsPath(workDir), 'utf8')) as AttachmentFile;
  } catch {
    return undefined;
  }
}

function writeAttachments(workDir: string, f: AttachmentFile): void {
  mkdirSync(cniDir(workDir), { recursive: true });
  const p = attachmentsPath(workDir);
  writeFileSync(`${p}.tmp`, JSON.stringify(f, null, 2));
  renameSync(`${p}.tmp`, p);
}

// --- applying ADD results to the resolved topology ---------------------------------------------

interface LinkJ {
  ifindex: number;
  ifname: string;
  mtu?: number;
  link_index?: number;
  link_netnsid?: number;
  master?: string;
}

/** The pod's IPv4 address, prefix and gateway from a result (first IPv4 entry). */
export function ipv4FromResult(r: CniResult): { ip: string; prefixLen: number; gateway?: string } | undefined {
  for (const x of r.ips ?? []) {
    const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(x.address);
    if (m) return { ip: m[1]!, prefixLen: Number(m[2]), gateway: x.gateway };
  }
  return undefined;
}

/** The host-side interface in a result: one without `sandbox` that is not the bridge (the last such one). */
export function hostIfFromResult(r: CniResult, bridgeName?: string): string | undefined {
  const host = (r.interfaces ?? []).filter((i) => !i.sandbox && i.name !== bridgeName);
  return host.length ? host[host.length - 1]!.name : undefined;
}

/** Attach-time facts about a pod, from the result first and the kernel where the result is silent. */
async function observeAttachment(t: ResolvedTopology, n: ResolvedNode, p: ResolvedPod, list: Conflist, r: CniResult): Promise<NonNullable<PodAttachment['attached']>> {
  const main = list.plugins[0]!;
  const bridgeName = main.type === 'bridge' ? (typeof main.bridge === 'string' ? main.bridge : 'cni0') : undefined;
  const v4 = ipv4FromResult(r);
  const [podLink] = await ipJson<LinkJ[]>(p.ns, ['link', 'show', 'dev', p.ifname]).catch(() => [] as LinkJ[]);
  // the kernel knows the veth peer exactly; the result's host-side interface is the fallback
  const nodeLinks = await ipJson<LinkJ[]>(n.ns, ['link', 'show']).catch(() => [] as LinkJ[]);
  const peer = podLink?.link_index !== undefined && podLink.link_netnsid !== undefined ? nodeLinks.find((l) => l.ifindex === podLink.link_index) : undefined;
  const hostIf = peer?.ifname ?? hostIfFromResult(r, bridgeName);
  const hostMaster = nodeLinks.find((l) => l.ifname === hostIf)?.master;
  let gateway = v4?.gateway;
  if (!gateway) {
    const routes = await ipJson<{ dst: string; gateway?: string }[]>(p.ns, ['-4', 'route', 'show', 'default']).catch(() => []);
    gateway = routes.find((x) => x.gateway)?.gateway;
  }
  const mtu = typeof main.mtu === 'number' ? main.mtu : (podLink?.mtu ?? p.mtu);
  void t;
  return { ip: v4?.ip ?? '', prefixLen: v4?.prefixLen ?? 32, gateway: gateway ?? '', hostIf: hostIf ?? '', mtu, ...(hostMaster ? { hostMaster } : {}) };
}

/** Put what the plugin built into the resolved topology (pods' ip, gateway, hostIf, mtu; the node's bridge). */
export function applyAttachments(t: ResolvedTopology, f: AttachmentFile): void {
  for (const n of t.nodes) {
    const nl = f.nodes.find((x) => x.node === n.name);
    if (!nl) continue;
    const masters = new Set<string | undefined>();
    for (const p of n.pods) {
      const a = f.pods.find((x) => x.node === n.name && x.pod === p.name && x.state === 'added');
      if (!a?.attached) continue;
      Object.assign(p, { ip: a.attached.ip, prefixLen: a.attached.prefixLen, gateway: a.attached.gateway, hostIf: a.attached.hostIf, mtu: a.attached.mtu });
      masters.add(a.attached.hostMaster);
    }
    // pods behind a bridge (bridge plugin, or anything that enslaves the host veth): flannel-style checks;
    // otherwise routed pods (/32 routes to the host veth)
    const [master] = masters;
    const gw = n.pods.find((p) => p.gateway)?.gateway;
    n.bridge = masters.size === 1 && master ? { name: master, ip: gw ?? n.bridge?.ip ?? '', addrs: n.bridge?.addrs ?? [] } : undefined;
  }
}

export interface AttachOptions {
  /** per plugin invocation (default 10 s) */
  timeoutMs?: number;
  /** nodes attached at once; pods of one node are ADDed in order */
  concurrency?: number;
  onPod?: (p: ResolvedPod) => void;
}

/**
 * CNI ADD for every pod (from inside its node namespace), recorded before each call; then the
 * resolved topology is updated from the results. Throws on the first failed ADD (after DELing it);
 * whatever was attached is DELed by teardown.
 */
export async function attachCni(t: ResolvedTopology, state: RunState, prep: PreparedCni, o: AttachOptions = {}): Promise<AttachmentFile> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const f: AttachmentFile = readAttachments(state.workDir) ?? { kind: 'vxlab-cni-attachments-v1', binDirs: prep.binDirs, timeoutMs, nodes: [], pods: [] };
  for (const n of t.nodes) {
    if (f.nodes.some((x) => x.node === n.name)) continue;
    const dir = nodeCniDir(state.workDir, n.name);
    mkdirSync(join(dir, 'ipam'), { recursive: true });
    f.nodes.push({ node: n.name, nodeNs: n.ns, dir, conflist: nodeConflist(prep, n, join(dir, 'ipam')) });
  }
  writeAttachments(state.workDir, f);
  // every node's worker finishes (or stops at its next pod once one failed) before this returns, so
  // nothing is still ADDing when the caller moves on to DEL and teardown
  const failures: { node: number; error: unknown }[] = [];
  await pool(t.nodes, o.concurrency ?? 8, async (n, ni) => {
    try {
      await attachNode(n);
    } catch (e) {
      failures.push({ node: ni, error: e });
    }
  });
  if (failures.length) throw failures.sort((a, b) => a.node - b.node)[0]!.error;
  applyAttachments(t, f);
  return f;

  async function attachNode(n: ResolvedNode): Promise<void> {
    const nl = f.nodes.find((x) => x.node === n.name)!;
    const rt = new CniRuntime({ binDirs: f.binDirs, cacheDir: join(nl.dir, 'cache'), nodeNs: n.ns, timeoutMs, ipamDataDir: prep.hasHostLocal ? join(nl.dir, 'ipam') : undefined });
    for (const p of n.pods) {
      if (failures.length) return;
      o.onPod?.(p);
      const a: PodAttachment = { node: n.name, pod: p.name, ns: p.ns, containerId: containerIdFor(t, p), ifName: p.ifname, state: 'adding' };
      f.pods.push(a);
      writeAttachments(state.workDir, f);
      const att = { containerId: a.containerId, netns: `${NETNS_DIR}/${p.ns}`, ifName: a.ifName, cniArgs: { IgnoreUnknown: '1', K8S_POD_NAME: p.name, K8S_POD_NAMESPACE: 'default' } };
      // a container runtime brings up the pod's loopback before the network plugins run
      await run(['ip', '-n', p.ns, 'link', 'set', 'lo', 'up']);
      try {
        a.result = await rt.add(nl.conflist, att);
      } catch (e) {
        // a half-done ADD is undone with DEL, as a container runtime would
        await rt.del(nl.conflist, att).then(() => (a.state = 'deleted')).catch(() => undefined);
        writeAttachments(state.workDir, f);
        throw new CniAttachError(`CNI ADD of pod ${n.name}/${p.name} (container ${a.containerId}, netns ${p.ns}) failed: ${(e as Error).message}`, e);
      }
      a.state = 'added';
      a.attached = await observeAttachment(t, n, p, nl.conflist, a.result);
      writeAttachments(state.workDir, f);
      const missing = (['ip', 'hostIf'] as const).filter((k) => !a.attached![k]);
      if (missing.length)
        throw new CniAttachError(
          `CNI ADD of pod ${n.name}/${p.name} succeeded, but vxlab cannot tell its ${missing.join(' and ')} (no IPv4 address in the result / no host-side interface): ${JSON.stringify(a.result)}`,
        );
    }
  }
}

export class CniAttachError extends Error {
  readonly code = 'VXLAB_CNI_ATTACH';
  constructor(message: string, readonly cause?: unknown) {
    super(message);
    this.name = 'CniAttachError';
  }
}

/**
 * CNI DEL for every attachment not yet deleted, in reverse order. Never throws for a failed DEL:
 * returns one message per failure so the caller can report it (namespaces are removed anyway).
 */
export async function detachCni(workDir: string): Promise<{ deleted: string[]; errors: string[] }> {
  const out = { deleted: [] as string[], errors: [] as string[] };
  const f = readAttachments(workDir);
  if (!f) return out;
  for (const a of [...f.pods].reverse()) {
    if (a.state === 'deleted') continue;
    const nl = f.nodes.find((x) => x.node === a.node);
    if (!nl) continue;
    try {
      const rt = new CniRuntime({
        binDirs: f.binDirs,
        cacheDir: join(nl.dir, 'cache'),
        nodeNs: nl.nodeNs,
        timeoutMs: f.timeoutMs,
        ipamDataDir: hostLocal(nl.conflist) ? join(nl.dir, 'ipam') : undefined,
      });
      if (!existsSync(`${NETNS_DIR}/${nl.nodeNs}`)) throw new Error(`node namespace ${nl.nodeNs} is gone`);
      await rt.del(nl.conflist, { containerId: a.containerId, netns: `${NETNS_DIR}/${a.ns}`, ifName: a.ifName });
      a.state = 'deleted';
      out.deleted.push(a.containerId);
    } catch (e) {
      out.errors.push(`DEL of pod ${a.node}/${a.pod} (container ${a.containerId}) failed: ${(e as Error).message}`);
    }
  }
  writeAttachments(workDir, f);
  return out;
}

/** Teardown hook (registered by lifecycle.ts): DEL before namespaces go; failures are reported on stderr, not fatal. */
export async function cniTeardownHook(s: RunState): Promise<void> {
  if (!s.workDir || !existsSync(attachmentsPath(s.workDir))) return;
  const { errors } = await detachCni(s.workDir);
  for (const e of errors) process.stderr.write(`vxlab: warning: run ${s.runId}: CNI ${e} (removing the namespaces anyway)\n`);
}

/**
 * What an overlay needs from the addresses a plugin handed out: every pod IP distinct, and inside its
 * node's pod subnet (the overlay routes each node's subnet to that node). One line per problem.
 */
export function attachmentProblems(t: ResolvedTopology): string[] {
  const problems: string[] = [];
  const holders = new Map<string, string[]>();
  for (const n of t.nodes) {
    for (const p of n.pods) {
      holders.set(p.ip, [...(holders.get(p.ip) ?? []), `${n.name}/${p.name}`]);
      if (!cidrContains(n.podSubnet, p.ip)) problems.push(`${n.name}/${p.name} got ${p.ip}, outside its node's pod subnet ${n.podSubnet} (the overlay routes ${n.podSubnet} to ${n.name})`);
    }
  }
  for (const [ip, who] of holders) if (who.length > 1) problems.unshift(`${ip} was given to ${who.length} pods (${who.join(', ')})`);
  return problems;
}
