// runtime: docker — every node is a container started through testcontainers (GenericContainer), each underlay
// segment a Docker network; a routed underlay adds a router container on every segment network. Each container's
// network namespace is bound under vxlab's name in /var/run/netns, and from there on it is a node like any other.
import type Dockerode from 'dockerode';
import type { ResolvedNode, ResolvedSegment, ResolvedTopology } from '../../topology/resolved.ts';
import { pool, run } from '../../util/exec.ts';
import type { Leftover, Runtime, RuntimeContext } from '../types.ts';
import type { RunState } from '../state.ts';
import { RuntimeUnavailableError } from '../errors.ts';
import { attachNetns } from '../netns/runtime.ts';
import { bridgeOf, containersOf, docker, dockerConfigured, linksOnBridges, waitLinksGone, LABEL_NODE, LABEL_RUN, LABEL_SEGMENT, LABEL_TOPOLOGY, networksOf, removeAll } from './client.ts';
import { ensureNodeImage } from './image.ts';
import { forwardingRecords, restoreForwarding } from './host-forwarding.ts';
import { dockerResolve } from './resolve.ts';
import { defaultDst } from '../../plan/plan.ts';
import { createSegmentNetwork, V6_NETWORK_V4_POOL, v4SlotFor, v4SubnetOfSlot } from './v4-pool.ts';

export interface Endpoint {
  network: string;
  ip: string;
}

/** Docker network options for a segment: the segment's CIDR and MTU, no masquerade, a bridge named after the run. */
export function networkSpec(t: ResolvedTopology, s: ResolvedSegment, extraLabels: Record<string, string> = {}): Dockerode.NetworkCreateOptions {
  const net = s.network!;
  return {
    Name: net.name,
    Driver: 'bridge',
    CheckDuplicate: true,
    // --internal on a single segment. A routed underlay cannot be internal: Docker's isolation rules for an internal
    // network drop every bridged frame whose IP source or destination is outside the network's subnet, which is
    // every packet the router forwards (see README: Docker and the host's FORWARD policy).
    Internal: net.internal,
    // an IPv6 segment is an IPv6 network (--ipv6). Docker 20.10 cannot make a network without IPv4: createSegmentNetwork
    // adds an IPv4 subnet of vxlab's choosing (V6_NETWORK_V4_POOL), whose address vxlab removes from the nodes (see
    // nodeUnderlay)
    ...(s.family === 6 ? { EnableIPv6: true } : {}),
    IPAM: { Driver: 'default', Config: [{ Subnet: s.cidr, Gateway: net.gateway }] },
    Options: {
      'com.docker.network.bridge.name': net.bridge,
      'com.docker.network.driver.mtu': String(s.mtu),
      'com.docker.network.bridge.enable_ip_masquerade': 'false',
      // traffic between containers of one network is accepted by Docker's own rule (-i br -o br -j ACCEPT),
      // whatever the FORWARD policy; that rule exists only with ICC on
      'com.docker.network.bridge.enable_icc': 'true',
    },
    Labels: { [LABEL_RUN]: t.runId, [LABEL_TOPOLOGY]: t.name, [LABEL_SEGMENT]: s.name, ...extraLabels },
  };
}

/** Start one container through testcontainers, attached to `endpoints` with fixed addresses, and wait until it runs. */
export async function startContainer(o: { name: string; image: string; hostname: string; labels: Record<string, string>; endpoints: Endpoint[] }): Promise<{ id: string; pid: number }> {
  const { tc, docker: d } = await docker();
  const [first, ...rest] = o.endpoints;
  class NodeContainer extends tc.GenericContainer {
    protected override async beforeContainerCreated(): Promise<void> {
      // a fixed address on the first network (testcontainers has no builder method for it)
      if (first) this.createOpts.NetworkingConfig = { EndpointsConfig: { [first.network]: { IPAMConfig: ipamOf(first.ip) } } };
    }
    protected override async containerCreated(id: string): Promise<void> {
      for (const e of rest) await d.getNetwork(e.network).connect({ Container: id, EndpointConfig: { IPAMConfig: ipamOf(e.ip) } });
    }
  }
  const c = new NodeContainer(o.image)
    .withName(o.name)
    .withHostname(o.hostname)
    .withLabels(o.labels)
    .withAutoCleanup(false)
    .withPullPolicy({ shouldPull: () => false });
  if (first) c.withNetworkMode(first.network);
  // the default wait strategy (listening ports) returns at once: a node container exposes no port
  const started = await c.start();
  // testcontainers inspected the container right after starting it; use that (one dockerd round trip less per
  // container, and dockerd is what a docker up waits for), and ask again only when it does not say running
  let info = (started as unknown as { inspectResult?: Dockerode.ContainerInspectInfo }).inspectResult;
  if (!info?.State?.Running || !info.State.Pid) info = await d.getContainer(started.getId()).inspect();
  if (!info.State.Running || !info.State.Pid) throw new Error(`container ${o.name} is not running (${info.State.Status}${info.State.Error ? `: ${info.State.Error}` : ''})`);
  return { id: started.getId(), pid: info.State.Pid };
}

/** the fixed address of an endpoint: --ip or --ip6 */
function ipamOf(ip: string): { IPv4Address?: string; IPv6Address?: string } {
  return ip.includes(':') ? { IPv6Address: ip } : { IPv4Address: ip };
}

const ipFlag = (ip: string) => (ip.includes(':') ? '--ip6' : '--ip');

function images(t: ResolvedTopology): string[] {
  return [...new Set(t.nodes.map((n) => n.image).filter((x): x is string => !!x))];
}

async function imageFor(n: ResolvedNode | undefined): Promise<string> {
  return n?.image ?? (await ensureNodeImage());
}

/** Rename the router's interfaces (ethN in the order Docker attached them) to s-<segment>, found by address. */
async function renameRouterLinks(t: ResolvedTopology): Promise<void> {
  const addrs = JSON.parse((await run(['ip', '-j', '-n', t.routerNs!, 'addr', 'show'])).stdout) as { ifname: string; addr_info: { local: string }[] }[];
  const lines: string[] = [];
  for (const s of t.segments) {
    const l = addrs.find((a) => a.addr_info.some((x) => x.local === s.routerIp));
    if (!l) throw new Error(`router container ${t.routerContainer}: no interface with ${s.routerIp} (segment ${s.name})`);
    if (l.ifname !== s.routerIf) lines.push(`link set dev ${l.ifname} down`, `link set dev ${l.ifname} name ${s.routerIf}`);
  }
  if (lines.length) await run(['ip', '-n', t.routerNs!, '-batch', '-'], { input: lines.join('\n') + '\n' });
}

/**
 * Docker switches IPv6 off (net.ipv6.conf.{all,default}.disable_ipv6=1) in a container none of whose networks is
 * IPv6. With IPv6 pods on an IPv4 underlay, the node's VTEP, cni0 and pod veths need it: switched back on inside the
 * node's own namespace before anything is created there.
 */
export function ipv6On(t: ResolvedTopology): Record<string, string> {
  return t.family === 6 || t.families.includes(6) ? { 'net.ipv6.conf.all.disable_ipv6': '0', 'net.ipv6.conf.default.disable_ipv6': '0' } : {};
}

/** Docker's default routes go (nodes route via the router, the router has none); an IPv6 network adds an IPv6 one */
function dockerRouteFlush(t: ResolvedTopology): string[] {
  // `table all`: with a table, ip route flush means IPv4 unless told -6, which a batch line cannot say
  return ['route flush exact 0.0.0.0/0', ...(t.family === 6 ? ['route flush exact ::/0 table all'] : [])];
}

/**
 * An IPv6 segment's interface as Docker left it: Docker's IPv6 address stays (Docker adds it with nodad), the IPv4
 * address from Docker's pools goes — the underlay is IPv6 only.
 */
function v6Underlay(dev: string): string[] {
  return [`addr flush dev ${dev} to 0.0.0.0/0`];
}

export const dockerRuntime: Runtime = {
  ...dockerResolve,
  name: 'docker',
  attachesNodes: true,
  async prepare(t) {
    const { docker: d } = await docker();
    for (const img of images(t)) {
      try {
        await d.getImage(img).inspect();
      } catch {
        throw new RuntimeUnavailableError(`image ${img} is not present locally; vxlab never pulls (load or build it first, e.g. docker load/docker build)`);
      }
    }
    if (t.nodes.some((n) => !n.image) || t.routerContainer) await ensureNodeImage();
  },
  underlayStage() {
    return undefined; // segments are Docker networks, created by createUnderlay
  },
  nodeSysctls(t) {
    return ipv6On(t);
  },
  nodeUnderlay(t, n) {
    // Docker gave eth0 its address; vxlab sets the topology's MAC and MTU and replaces Docker's default route
    const a = ['link set lo up', `link set ${n.underlayIf} address ${n.underlayMac} mtu ${n.underlayMtu} up`, ...dockerRouteFlush(t)];
    if (n.family === 6) a.push(...v6Underlay(n.underlayIf));
    if (n.gateway) a.push(`route add ${defaultDst(n.gateway)} via ${n.gateway} dev ${n.underlayIf}`);
    return a;
  },
  routerUnderlay(t) {
    const a = ['link set lo up', ...t.segments.map((s) => `link set ${s.routerIf} mtu ${s.routerMtu ?? s.mtu} up`), ...dockerRouteFlush(t)];
    // renaming a link takes it down, and an IPv6 address goes with the link (keep_addr_on_down=0): added back
    if (t.family === 6) for (const s of t.segments) a.push(...v6Underlay(s.routerIf!), `addr replace ${s.routerIp}/${s.prefixLen} dev ${s.routerIf} nodad`);
    return a;
  },
  planNotes(t) {
    const out = ['# runtime docker (containers started through testcontainers, labelled vxlab.run / vxlab.topology / vxlab.node)'];
    // Docker's doing, said up front: libnetwork turns IPv6 forwarding on for the host with every IPv6 bridge network
    if (t.family === 6) out.push("# note: creating an IPv6 Docker network makes dockerd set the host's net.ipv6.conf.all.forwarding and default.forwarding to 1 (Docker never sets them back; vxlab records the values before and writes them back at down, once no Docker network with IPv6 is left on the host)");
    for (const s of t.segments) {
      const n = s.network!;
      const v4 = s.family === 6 ? v4SubnetOfSlot(v4SlotFor(t.runId, s.name)) : undefined;
      out.push(`docker network create ${n.internal ? '--internal ' : ''}${s.family === 6 ? '--ipv6 ' : ''}--subnet ${s.cidr} --gateway ${n.gateway} ${v4 ? `--subnet ${v4} ` : ''}-o com.docker.network.bridge.name=${n.bridge} -o com.docker.network.driver.mtu=${s.mtu} -o com.docker.network.bridge.enable_ip_masquerade=false -o com.docker.network.bridge.enable_icc=true --label ${LABEL_RUN}=${t.runId} ${n.name}`);
      if (v4) out.push(`#   its IPv4 subnet (Docker 20.10 requires one on an IPv6 network; vxlab removes the nodes' addresses in it): ${v4}, or the next /24 of ${V6_NETWORK_V4_POOL} that no Docker network on the host uses`);
    }
    if (t.routerContainer) {
      out.push(`docker run -d --name ${t.routerContainer} --network ${t.segments[0]!.network!.name} ${ipFlag(t.segments[0]!.routerIp!)} ${t.segments[0]!.routerIp} --label ${LABEL_RUN}=${t.runId} <vxlab node image>`);
      for (const s of t.segments.slice(1)) out.push(`docker network connect ${ipFlag(s.routerIp!)} ${s.routerIp} ${s.network!.name} ${t.routerContainer}`);
    }
    for (const n of t.nodes) {
      const net = t.segments.find((s) => s.name === n.segment)!.network!.name;
      out.push(`docker run -d --name ${n.container} --hostname ${n.name} --network ${net} ${ipFlag(n.ip)} ${n.ip} --label ${LABEL_RUN}=${t.runId} --label ${LABEL_NODE}=${n.name} ${n.image ?? '<vxlab node image>'}`);
    }
    return out.join('\n');
  },
  async createUnderlay(ctx) {
    const { docker: d } = await docker();
    // dockerd sets the host's IPv6 forwarding with an IPv6 network: its values before, recorded first, are put back at down
    if (ctx.t.segments.some((s) => s.family === 6)) for (const r of forwardingRecords(ctx.t.runId)) ctx.record(r);
    for (const s of ctx.t.segments) {
      ctx.record({ kind: 'network', name: s.network!.name });
      await createSegmentNetwork(d, ctx.t, s, networkSpec(ctx.t, s));
    }
  },
  async createNodes(ctx: RuntimeContext) {
    const t = ctx.t;
    const labels = (node: string) => ({ [LABEL_RUN]: t.runId, [LABEL_TOPOLOGY]: t.name, [LABEL_NODE]: node });
    type Job = { name: string; ns: string; node?: ResolvedNode; endpoints: Endpoint[] };
    const jobs: Job[] = t.nodes.map((n) => ({ name: n.container!, ns: n.ns, node: n, endpoints: [{ network: t.segments.find((s) => s.name === n.segment)!.network!.name, ip: n.ip }] }));
    if (t.routerContainer) jobs.unshift({ name: t.routerContainer, ns: t.routerNs!, endpoints: t.segments.map((s) => ({ network: s.network!.name, ip: s.routerIp! })) });
    await pool(jobs, ctx.concurrency, async (j) => {
      if (ctx.signal?.aborted) return;
      ctx.record({ kind: 'container', name: j.name });
      const image = await imageFor(j.node);
      const c = await startContainer({ name: j.name, image, hostname: j.node?.name ?? 'router', labels: labels(j.node?.name ?? 'router'), endpoints: j.endpoints });
      await attachNetns(j.ns, c.pid);
      if (j.node) ctx.discover(j.node.name, { containerId: c.id, image });
    });
    if (t.routerContainer && !ctx.signal?.aborted) await renameRouterLinks(t);
  },
  execArgv(state, node, argv) {
    return ['docker', 'exec', state.discovered?.[node]?.containerId ?? `${state.prefix}-${state.topology}-${node}`, ...argv];
  },
  async remove(state: RunState) {
    // by label, so a container whose creation was interrupted after the record is found too
    const cs = await containersOf({ label: [`${LABEL_RUN}=${state.runId}`] });
    const ns = await networksOf({ label: [`${LABEL_RUN}=${state.runId}`] });
    const veths = await linksOnBridges(ns.map(bridgeOf).filter((b): b is string => !!b));
    const left = await removeAll(cs.map((c) => c.Id), ns.map((n) => n.Id));
    // the kernel destroys a removed container's namespace (and the host side of its veth) asynchronously; on a busy
    // machine that takes seconds. Wait for it (bounded), so the root namespace is as before when down returns.
    await waitLinksGone(veths, 60_000);
    // what dockerd changed on the host for this run's IPv6 networks (host-forwarding.ts)
    if (!left.length) await restoreForwarding(state);
    return left;
  },
  async leftovers() {
    const out: Leftover[] = [];
    if (!dockerConfigured()) return out;
    for (const c of await containersOf({ label: [LABEL_RUN] })) out.push({ kind: 'container', name: c.Id, runId: c.Labels[LABEL_RUN]! });
    for (const n of await networksOf({ label: [LABEL_RUN] })) out.push({ kind: 'network', name: n.Id, runId: n.Labels?.[LABEL_RUN] ?? "" });
    return out;
  },
  async removeLeftovers(items) {
    const left = await removeAll(items.filter((i) => i.kind === 'container').map((i) => i.name), items.filter((i) => i.kind === 'network').map((i) => i.name));
    if (left.length) throw new Error(`could not remove: ${left.join('; ')}`);
  },
};
