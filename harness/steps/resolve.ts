// Resolve a topology's `steps:` (pure): walk the node set through the steps so every action names a node that exists
// at that point, an added node gets every address, MAC and name decided (as normalize decides them for nodes:), and a
// changed address stays in the node's segment. Errors carry the step's path (file:line:col through load).
import { SemanticError, type Path } from '../topology/errors.ts';
import { contains, host, ipToInt, nthSubnet, overlaps, parseCidr, size, type Cidr4 } from '../topology/ip.ts';
import type { ResolvedNode, ResolvedTopology } from '../topology/resolved.ts';
import type { Topology, TopoNode } from '../topology/schema.ts';
import { DEFAULT_CONTROL, parseDuration, type ResolvedControl, type ResolvedStep } from './types.ts';

export function resolveControl(t: Topology): ResolvedControl {
  return { ...DEFAULT_CONTROL, ...Object.fromEntries(Object.entries(t.control ?? {}).filter(([, v]) => v !== undefined)) };
}

/** Why steps cannot act on this topology (vxlab must be the control plane, nodes namespaces, VTEPs kernel devices). */
function unsupported(src: Topology, r: ResolvedTopology): string | undefined {
  if (r.runtime !== 'netns') return `runtime ${r.runtime}: steps act on runtime netns nodes only`;
  if (r.builder !== 'vxlab') return 'builder: external: the setup programs are the control plane, so vxlab cannot play it for steps';
  if (r.cni) return 'overlay.cni: the plugin chain attaches pods; steps need the built-in attachment';
  const u = r.nodes.find((n) => n.vtep.kind !== 'kernel');
  if (u) return `node ${u.name} has a userspace VTEP (its FDB is static from the topology); steps need kernel VTEPs`;
  if (src.overlay?.vtep === 'userspace') return 'overlay.vtep: userspace; steps need kernel VTEPs';
  if ((r as any).family === 6 || ((r as any).families ?? [4]).some((f: number) => f !== 4)) return 'steps act on IPv4 topologies for now (an IPv6 underlay or IPv6 pods: not yet)';
  return undefined;
}

/** A resolved node written back as a node entry, every decided value pinned (so re-normalizing keeps it). */
function pin(spec: TopoNode, n: ResolvedNode): TopoNode {
  const { vtepMac: _m, ...ov } = spec.overlay ?? {};
  return {
    ...spec,
    segment: n.segment,
    ip: n.ip,
    podSubnet: n.podSubnet,
    vtepMac: n.vtep.mac,
    pods: n.pods.map((p) => p.name),
    ...(spec.overlay ? { overlay: ov } : {}),
  };
}

export function resolveSteps(
  src: Topology,
  r: ResolvedTopology,
  normalize: (t: Topology) => ResolvedTopology,
): ResolvedStep[] {
  const steps = src.steps ?? [];
  if (!steps.length) return [];
  const cur: ResolvedNode[] = r.nodes.map((n) => ({ ...n, vtep: { ...n.vtep } }));
  const specs = new Map<string, TopoNode>(src.nodes.map((n) => [n.name, n]));
  const everSubnets: Cidr4[] = cur.map((n) => parseCidr(n.podSubnet));
  const podCidr = parseCidr(r.overlay.podCidr);
  const find = (name: string, p: Path) => {
    const n = cur.find((x) => x.name === name);
    if (!n) throw new SemanticError(p, `no node '${name}' at this step; expected one of: ${cur.map((x) => x.name).join(', ')}`);
    return n;
  };
  const out: ResolvedStep[] = [];
  steps.forEach((s, i) => {
    const p: Path = ['steps', i];
    const n = i + 1;
    if (s.action && s.check) throw new SemanticError([...p, 'check'], 'a step has an action or a check list, not both (write two steps)');
    if (!s.action && !s.check) throw new SemanticError(p, "expected action: restart-node | remove-node | add-node | change-node-ip, or check: [suites or check ids]");
    const stray = (keys: string[]) => {
      for (const k of keys) if ((s as any)[k] !== undefined) throw new SemanticError([...p, k], `${k} does not apply to ${s.action ? `action ${s.action}` : 'a check step'}`);
    };
    if (s.check) {
      stray(['node', 'newMac', 'ip']);
      out.push({ n, action: 'check', check: s.check, ...(s.within !== undefined ? { withinMs: parseDuration(s.within), within: String(s.within) } : {}), expect: s.expect ?? {} });
      return;
    }
    stray(['within', 'expect']);
    const why = unsupported(src, r);
    if (why) throw new SemanticError([...p, 'action'], why);
    if (s.node === undefined) throw new SemanticError(p, `missing node; action ${s.action} expects ${s.action === 'add-node' ? 'a node object like { name: node4, pods: 1 }' : 'a node name'}`);
    if (s.action === 'add-node') {
      stray(['newMac', 'ip']);
      if (typeof s.node === 'string') throw new SemanticError([...p, 'node'], `add-node expects a node object like { name: ${s.node}, pods: 1 }, not a name`);
      const spec = s.node;
      if (cur.some((x) => x.name === spec.name)) throw new SemanticError([...p, 'node', 'name'], `node '${spec.name}' already exists at this step (remove it first to re-add it)`);
      // the first pod subnet no node of this run ever had: a re-added node does not inherit its old one by accident
      let podSubnet = spec.podSubnet;
      if (!podSubnet) {
        const max = 2 ** (r.overlay.nodeCidrSize - podCidr.prefix);
        for (let k = 1; k < max && !podSubnet; k++) {
          const c = nthSubnet(podCidr, r.overlay.nodeCidrSize, k);
          if (!everSubnets.some((o) => overlaps(o, c))) podSubnet = c.text;
        }
        if (!podSubnet) throw new SemanticError([...p, 'node'], `podCidr ${podCidr.text} has no free /${r.overlay.nodeCidrSize} subnet left for node ${spec.name}`);
      }
      const nodes = [...cur.map((x) => pin(specs.get(x.name)!, x)), { ...spec, podSubnet }];
      let fresh: ResolvedTopology;
      try {
        fresh = normalize({ ...src, nodes, faults: [], steps: undefined, expect: {}, checks: undefined });
      } catch (e) {
        if (!(e instanceof SemanticError)) throw e;
        const at = e.path[0] === 'nodes' && e.path[1] === cur.length ? [...p, 'node', ...e.path.slice(2)] : [...p, 'node'];
        if (e.path[0] === 'nodes' && e.path[2] === 'podSubnet' && !spec.podSubnet && e.path[1] === cur.length) throw new SemanticError([...p, 'node'], e.message);
        throw new SemanticError(at, e.message);
      }
      const added = fresh.nodes[fresh.nodes.length - 1]!;
      added.index = Math.max(...r.nodes.map((x) => x.index), ...cur.map((x) => x.index)) + 1 + i;
      cur.push({ ...added, vtep: { ...added.vtep } });
      specs.set(spec.name, spec);
      everSubnets.push(parseCidr(added.podSubnet));
      out.push({ n, action: 'add-node', node: added });
      return;
    }
    if (typeof s.node !== 'string') throw new SemanticError([...p, 'node'], `${s.action} expects a node name, not a node object`);
    const node = find(s.node, [...p, 'node']);
    if (s.action === 'remove-node') {
      stray(['newMac', 'ip']);
      if (cur.length === 1) throw new SemanticError([...p, 'node'], `removing ${node.name} would leave no node`);
      cur.splice(cur.indexOf(node), 1);
      out.push({ n, action: 'remove-node', node: node.name });
      return;
    }
    if (s.action === 'restart-node') {
      stray(['ip']);
      const mac = s.newMac?.toLowerCase();
      if (mac) {
        if (parseInt(mac.slice(0, 2), 16) & 1) throw new SemanticError([...p, 'newMac'], `MAC ${mac} is a multicast address; expected a unicast MAC`);
        if (mac === '00:00:00:00:00:00') throw new SemanticError([...p, 'newMac'], `MAC ${mac} is all zeros; expected a unicast MAC`);
        const other = cur.find((x) => x !== node && x.vtep.mac === mac);
        if (other) throw new SemanticError([...p, 'newMac'], `VTEP MAC ${mac} is used by ${other.name}`);
        node.vtep.mac = mac;
      }
      out.push({ n, action: 'restart-node', node: node.name, ...(mac ? { newMac: mac } : {}) });
      return;
    }
    // change-node-ip
    stray(['newMac']);
    if (!s.ip) throw new SemanticError(p, 'missing ip; change-node-ip expects the new underlay address, like ip: 192.168.1.50');
    const seg = r.segments.find((x) => x.name === node.segment)!;
    const c = parseCidr(seg.cidr);
    const ip = ipToInt(s.ip);
    const off = ip - c.net;
    if (!contains(c, ip) || off === 0 || off === size(c) - 1) throw new SemanticError([...p, 'ip'], `${s.ip} is not a host address of ${node.name}'s segment ${seg.name} (${seg.cidr})`);
    if (seg.routerIp === s.ip) throw new SemanticError([...p, 'ip'], `${s.ip} is the router's address on ${seg.name}`);
    if (s.ip === node.ip) throw new SemanticError([...p, 'ip'], `${node.name} already has ${s.ip} at this step`);
    const other = cur.find((x) => x !== node && x.ip === s.ip);
    if (other) throw new SemanticError([...p, 'ip'], `${s.ip} is ${other.name}'s address at this step`);
    if (host(c, 0) === s.ip) throw new SemanticError([...p, 'ip'], `${s.ip} is the network address`);
    node.ip = s.ip;
    out.push({ n, action: 'change-node-ip', node: node.name, ip: s.ip });
  });
  return out;
}
