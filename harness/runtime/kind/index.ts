// runtime: kind — `up` creates a kind cluster (nodes are kind's node containers) on a Docker network vxlab owns
// (KIND_EXPERIMENTAL_DOCKER_NETWORK), reads each node's IP and MAC from Docker and its pod CIDR from the cluster
// (spec.podCIDR, when the API answers), binds each node container's network namespace under vxlab's name, and from
// there the overlay is built inside the node containers like on any other runtime. `down` deletes the cluster.
import { accessSync, constants, existsSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type Dockerode from 'dockerode';
import type { ResolvedTopology } from '../../topology/resolved.ts';
import { run } from '../../util/exec.ts';
import type { Leftover, Runtime, RuntimeContext } from '../types.ts';
import type { RunState } from '../state.ts';
import { RuntimeUnavailableError } from '../errors.ts';
import { attachNetns } from '../netns/runtime.ts';
import { bridgeOf, containersOf, docker, dockerConfigured, linksOnBridges, waitLinksGone, LABEL_RUN, networksOf, removeAll } from '../docker/client.ts';
import { ipv6On, networkSpec } from '../docker/index.ts';
import { createSegmentNetwork } from '../docker/v4-pool.ts';
import { forwardingRecords, restoreForwarding } from '../docker/host-forwarding.ts';
import { kindConfigYaml } from './config.ts';
import { kindNodeName, kindResolve } from './resolve.ts';

export { kindNodeName };

export const LABEL_KIND_CLUSTER = 'io.x-k8s.kind.cluster';
export const LABEL_KIND_ROLE = 'io.x-k8s.kind.role';

function onPath(bin: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(d, bin), constants.X_OK);
      return join(d, bin);
    } catch {}
  }
  return undefined;
}

function clusterOf(state: RunState): string {
  return `${state.prefix}-${state.topology}`;
}

/** spec.podCIDRs of every node (one per family; older API servers: spec.podCIDR), when the cluster's API answers within a bounded wait; otherwise undefined. */
async function podCidrs(kubeconfig: string, names: string[]): Promise<Record<string, string[]> | undefined> {
  if (!onPath('kubectl') || !existsSync(kubeconfig)) return undefined;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const r = await run(['kubectl', '--kubeconfig', kubeconfig, 'get', 'nodes', '-o', 'json', '--request-timeout=5s'], { reject: false, timeoutMs: 10_000 });
    if (r.exitCode !== 0) return undefined;
    const items = (JSON.parse(r.stdout).items ?? []) as { metadata: { name: string }; spec?: { podCIDR?: string; podCIDRs?: string[] } }[];
    const m: Record<string, string[]> = {};
    for (const it of items) {
      const cidrs = it.spec?.podCIDRs?.length ? it.spec.podCIDRs : it.spec?.podCIDR ? [it.spec.podCIDR] : [];
      if (cidrs.length) m[it.metadata.name] = cidrs;
    }
    if (names.every((n) => m[n])) return m;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return undefined;
}

export const kindRuntime: Runtime = {
  ...kindResolve,
  name: 'kind',
  attachesNodes: true,
  async prepare() {
    await docker();
    if (!onPath('kind')) throw new RuntimeUnavailableError('runtime kind needs the kind executable on PATH (https://kind.sigs.k8s.io: a single static binary)');
  },
  underlayStage() {
    return undefined;
  },
  nodeSysctls(t) {
    // kind turns IPv6 on in its nodes for an ipv6/dual cluster only; an IPv6 underlay under IPv4 pods needs it too
    return ipv6On(t);
  },
  nodeUnderlay() {
    // kind configured eth0 (address, default route); vxlab leaves it as kind made it
    return ['link set lo up'];
  },
  routerUnderlay() {
    return [];
  },
  planNotes(t) {
    const s = t.segments[0]!;
    return [
      `# runtime kind: KIND_EXPERIMENTAL_DOCKER_NETWORK=${s.network!.name} kind create cluster --name ${t.kindCluster} --config CONFIG --kubeconfig WORKDIR/kubeconfig`,
      `# on the Docker network ${s.network!.name} (${s.cidr}, MTU ${s.mtu}, bridge ${s.network!.bridge}); node IPs are read from Docker and pod subnets`,
      `# from the nodes' spec.podCIDR after creation (the addresses below are placeholders until then). CONFIG:`,
      ...kindConfigYaml(t).trimEnd().split('\n').map((l) => `#   ${l}`),
    ].join('\n');
  },
  async createUnderlay(ctx) {
    const { docker: d } = await docker();
    const s = ctx.t.segments[0]!;
    // an IPv6 segment is an IPv6 Docker network, for which dockerd turns the host's IPv6 forwarding on: recorded
    // first, put back at down (docker/host-forwarding.ts)
    if (s.family === 6) for (const r of forwardingRecords(ctx.t.runId)) ctx.record(r);
    ctx.record({ kind: 'network', name: s.network!.name });
    const spec = networkSpec(ctx.t, s);
    // kind's nodes are Kubernetes nodes: like kind's own network, this one is not internal and masquerades
    spec.Internal = false;
    spec.Options!['com.docker.network.bridge.enable_ip_masquerade'] = 'true';
    await createSegmentNetwork(d, ctx.t, s, spec);
  },
  async createNodes(ctx: RuntimeContext) {
    const t = ctx.t;
    const cluster = t.kindCluster!;
    const cfg = join(ctx.state.workDir, 'kind-config.yaml');
    const kubeconfig = join(ctx.state.workDir, 'kubeconfig');
    writeFileSync(cfg, kindConfigYaml(t));
    ctx.record({ kind: 'kind-cluster', name: cluster });
    const net = t.segments[0]!.network!.name;
    await run(['kind', 'create', 'cluster', '--name', cluster, '--config', cfg, '--kubeconfig', kubeconfig, '--wait', '0s'], {
      env: { KIND_EXPERIMENTAL_DOCKER_NETWORK: net },
      timeoutMs: 600_000,
    });
    const { docker: d } = await docker();
    const cs = await containersOf({ label: [`${LABEL_KIND_CLUSTER}=${cluster}`] });
    for (const n of t.nodes) {
      const c = cs.find((x) => x.Names.some((nm) => nm.replace(/^\//, '') === n.container));
      if (!c) throw new Error(`kind created no node container ${n.container} for ${n.name} (cluster ${cluster} has: ${cs.map((x) => x.Names.join(',')).join(' ') || 'none'})`);
      const info: Dockerode.ContainerInspectInfo = await d.getContainer(c.Id).inspect();
      const ep = info.NetworkSettings.Networks[net];
      // the underlay's family: an IPv6 segment is an IPv6 network, and the node's VXLAN runs over its IPv6 address
      const ip = t.family === 6 ? ep?.GlobalIPv6Address : ep?.IPAddress;
      if (!ip) throw new Error(`kind node ${n.container} has no IPv${t.family} address on network ${net}`);
      await attachNetns(n.ns, info.State.Pid);
      ctx.discover(n.name, { containerId: c.Id, image: info.Config.Image, ip, underlayMac: ep!.MacAddress.toLowerCase() });
    }
    const cidrs = await podCidrs(kubeconfig, t.nodes.map((n) => n.container!));
    if (cidrs) for (const n of t.nodes) ctx.discover(n.name, { podSubnet: cidrs[n.container!] });
  },
  execArgv(state, node, argv) {
    return ['docker', 'exec', state.discovered?.[node]?.containerId ?? node, ...argv];
  },
  async remove(state: RunState) {
    const cluster = clusterOf(state);
    const left: string[] = [];
    const veths = await linksOnBridges((await networksOf({ label: [`${LABEL_RUN}=${state.runId}`] })).map(bridgeOf).filter((b): b is string => !!b));
    if (onPath('kind')) {
      const r = await run(['kind', 'delete', 'cluster', '--name', cluster], { reject: false, timeoutMs: 120_000 });
      if (r.exitCode !== 0) left.push(`kind delete cluster ${cluster}: ${r.stderr.trim()}`);
    }
    // whatever kind left (or when kind is gone): the node containers by kind's label, then vxlab's network
    const cs = await containersOf({ label: [`${LABEL_KIND_CLUSTER}=${cluster}`] });
    const ns = await networksOf({ label: [`${LABEL_RUN}=${state.runId}`] });
    const kept = [...left.filter(() => cs.length > 0), ...(await removeAll(cs.map((c) => c.Id), ns.map((n) => n.Id)))];
    await waitLinksGone(veths, 60_000); // see docker/index.ts: namespaces die asynchronously
    if (!kept.length) await restoreForwarding(state);
    return kept;
  },
  async leftovers() {
    const out: Leftover[] = [];
    if (!dockerConfigured()) return out;
    for (const c of await containersOf({ label: [LABEL_KIND_CLUSTER] })) {
      const m = /^vx-([a-z0-9]{1,8})-/.exec(c.Labels[LABEL_KIND_CLUSTER] ?? '');
      if (m) out.push({ kind: 'container', name: c.Id, runId: m[1]! });
    }
    return out;
  },
  async removeLeftovers(items) {
    const left = await removeAll(items.filter((i) => i.kind === 'container').map((i) => i.name), []);
    if (left.length) throw new Error(`could not remove: ${left.join('; ')}`);
  },
};
