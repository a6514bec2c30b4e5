// The runtime interface: where nodes live. One folder per runtime (netns/, docker/, kind/), registered in registry.ts.
// A runtime creates the underlay segments and the nodes and hands each node back as a network namespace under
// /var/run/netns (vxlab's own name). Everything above it (plan, apply, VTEPs, faults, probes, capture, CNI) sees
// only those namespaces.
import type { Stage } from '../plan/plan.ts';
import type { DiscoveredNode, Family, ResolvedNode, ResolvedTopology } from '../topology/resolved.ts';
import type { Topology } from '../topology/schema.ts';
import type { RunState } from './state.ts';

/** Something a runtime owns outside /var/run/netns (a container, a Docker network, a kind cluster). */
export interface Resource {
  kind: string;
  /** the name it is created under (unique per run: carries the run's prefix) */
  name: string;
}

export interface RuntimeContext {
  t: ResolvedTopology;
  state: RunState;
  /** record a resource in the state file; call it before creating the resource */
  record(r: Resource): void;
  /** remember what was learned about a node (container id, image, kind: IP, MAC, pod CIDR) */
  discover(node: string, d: DiscoveredNode): void;
  signal?: AbortSignal;
  /** concurrent node creations */
  concurrency: number;
}

export interface Leftover extends Resource {
  runId: string;
}

/** How a topology resolves on this runtime: pure, called by normalize (so `vxlab validate` reports it). */
export interface RuntimeResolve {
  /** what this runtime cannot do: throw a SemanticError at the offending key (it becomes file:line:col) */
  validate(t: Topology): void;
  /** what this runtime cannot do with these address families (underlay, pods): a SemanticError at the key */
  validateFamilies?(t: Topology, underlay: Family, pods: Family[]): void;
  /** a host offset in every segment that no node may get (docker: the gateway Docker puts on the bridge); bigint: IPv6 segments */
  reservedHost?(segmentSize: bigint): { offset: bigint; why: string } | undefined;
  /** the names this runtime gives things: segment namespaces or Docker networks, containers, the kind cluster */
  decorate(r: ResolvedTopology, t: Topology): void;
}

export interface Runtime extends RuntimeResolve {
  readonly name: string;
  /** true when nodes (and the router) are processes of their own whose namespaces are bound, not created, under /var/run/netns */
  readonly attachesNodes: boolean;
  /** Before the host changes: is the runtime usable (daemon reachable, images present)? Throws a PreflightError. */
  prepare(t: ResolvedTopology): Promise<void>;
  /** Pure, for the plan: the underlay stage run inside namespaces this runtime created (netns: bridges and veths). */
  underlayStage(t: ResolvedTopology): Stage | undefined;
  /** Pure, for the plan: sysctls a node (or the router) needs before anything is created in it (docker: IPv6 back on). */
  nodeSysctls?(t: ResolvedTopology): Record<string, string>;
  /** Pure, for the plan: the first `ip` lines of a node's batch, bringing up its underlay eth0. */
  nodeUnderlay(t: ResolvedTopology, n: ResolvedNode): string[];
  /** Pure, for the plan: the router's `ip` lines (routed underlays). */
  routerUnderlay(t: ResolvedTopology): string[];
  /** Extra text for `vxlab plan` (kind: the cluster config it would use). */
  planNotes?(t: ResolvedTopology): string;
  /** Create the segments (netns: segment namespaces; docker: Docker networks). */
  createUnderlay(ctx: RuntimeContext): Promise<void>;
  /** Create the nodes (and the router); afterwards /var/run/netns/<node.ns> (and <routerNs>) exist. */
  createNodes(ctx: RuntimeContext): Promise<void>;
  /** argv that runs `argv` inside the node itself (netns: its namespace; docker/kind: the container, with its own tools) */
  execArgv(state: RunState, node: string, argv: string[]): string[];
  /** Remove every resource of this run (recorded or labelled); namespaces under /var/run/netns are removed by the caller. */
  remove(state: RunState): Promise<string[]>;
  /** Resources of vxlab runs this runtime can find on the host (labels, names), for `cleanup`. */
  leftovers(): Promise<Leftover[]>;
  /** Remove leftovers of runs that have no state file. */
  removeLeftovers(items: Leftover[]): Promise<void>;
}
