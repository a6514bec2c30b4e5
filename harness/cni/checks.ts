// The `cni/*` spec conformance checks: drive a conflist through the CNI runtime inside a node
// network namespace and compare what the plugins said with what the kernel shows.
import { readdir, readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { CheckResult, Status } from '../report/types.ts';
import { ipJson } from '../util/exec.ts';
import { type Conflist, effectiveVersion, pluginTypes, setIpamDataDir, validateConflist } from './conflist.ts';
import { CniError, CniRuntimeError } from './errors.ts';
import { canonicalIp, normalizeRouteDst, parseCidr } from './ip.ts';
import type { CniResult } from './result.ts';
import { type Attachment, buildEnv, CniRuntime, deriveExecConfig, type PluginExecutor } from './runtime.ts';
import { errorFromFailedPlugin } from './result.ts';

export const CNI_CHECK_IDS = [
  'cni/version',
  'cni/add-result-valid',
  'cni/add-matches-netns',
  'cni/check-after-add',
  'cni/del-idempotent',
  'cni/del-cleans-up',
  'cni/concurrent-add-distinct-ips',
  'cni/add-missing-field-error',
] as const;
export type CniCheckId = (typeof CNI_CHECK_IDS)[number];

export interface CniCheckOptions {
  conflist: Conflist;
  binDirs: string[];
  /** node network namespace the plugins run in */
  nodeNs: string;
  /** create a pod network namespace, return its name (it lives at /var/run/netns/<name>) */
  makePodNs(): Promise<string>;
  deletePodNs(ns: string): Promise<void>;
  /** per-run scratch dir: holds the result cache and the host-local IPAM dataDir */
  workDir: string;
  /** per plugin invocation (default 10 s) */
  timeoutMs?: number;
  /** interface name inside pods (default eth0) */
  ifName?: string;
  /** pods ADDed at once by cni/concurrent-add-distinct-ips (default 4) */
  concurrency?: number;
  /** capability values (e.g. portMappings) given to plugins that declare them */
  capabilityArgs?: Record<string, unknown>;
  /** run only these checks (the others are not reported) */
  only?: CniCheckId[];
  /** replace plugin execution (tests) */
  executor?: PluginExecutor;
}

const TITLES: Record<CniCheckId, string> = {
  'cni/version': 'every plugin answers VERSION and supports the conflist cniVersion',
  'cni/add-result-valid': 'ADD returns a spec-valid result for the pod',
  'cni/add-matches-netns': "the pod's interface, addresses and routes match the ADD result",
  'cni/check-after-add': 'CHECK succeeds right after ADD',
  'cni/del-idempotent': 'DEL twice succeeds; DEL after the netns is gone succeeds',
  'cni/del-cleans-up': 'DEL leaves no host-side interfaces and no IPAM allocations',
  'cni/concurrent-add-distinct-ips': 'concurrent ADDs on one node get distinct IPs',
  'cni/add-missing-field-error': 'ADD with a missing required field returns a well-formed CNI error',
};

export const netnsPath = (ns: string): string => `/var/run/netns/${ns}`;

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function errObserved(e: unknown): unknown {
  if (e instanceof CniError) return { error: 'CniError', code: e.code, meaning: e.meaning, msg: e.msg, details: e.details, plugin: e.plugin, command: e.command };
  if (e instanceof CniRuntimeError) return { error: 'CniRuntimeError', kind: e.kind, message: e.message, problems: e.info.problems };
  return { error: errText(e) };
}

// --- kernel state helpers ---------------------------------------------------------------------

interface IpAddrInfo {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  scope?: string;
}
interface IpLink {
  ifindex: number;
  ifname: string;
  address?: string;
  mtu?: number;
  link_type?: string;
  addr_info?: IpAddrInfo[];
  linkinfo?: { info_kind?: string };
}
interface IpRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table?: string;
  metric?: number;
}

async function podState(ns: string): Promise<{ links: IpLink[]; routes4: IpRoute[]; routes6: IpRoute[] }> {
  const [links, routes4, routes6] = await Promise.all([
    ipJson<IpLink[]>(ns, ['addr', 'show']),
    ipJson<IpRoute[]>(ns, ['-4', 'route', 'show', 'table', 'all']),
    ipJson<IpRoute[]>(ns, ['-6', 'route', 'show', 'table', 'all']),
  ]);
  return { links, routes4, routes6 };
}

interface Snapshot {
  links: string[];
  /** host-local allocations: ip -> holder ("containerId ifname") */
  alloc: Record<string, string>;
}

async function ipamAllocations(dataDir: string, network: string): Promise<Record<string, string>> {
  const dir = join(dataDir, network);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  for (const n of names) {
    if (n === 'lock' || n.startsWith('last_reserved_ip')) continue;
    let holder = '';
    try {
      holder = (await readFile(join(dir, n), 'utf8')).split(/\s+/).filter(Boolean).join(' ');
    } catch {
      /* raced */
    }
    out[n] = holder;
  }
  return out;
}

/** Compare an ADD result with what `ip` shows in the pod. Returns one line per mismatch. */
export function diffResultAgainstPod(
  result: CniResult,
  podNsPath: string,
  ifName: string,
  pod: { links: IpLink[]; routes4: IpRoute[]; routes6: IpRoute[] },
): string[] {
  const diffs: string[] = [];
  const byName = new Map(pod.links.map((l) => [l.ifname, l]));
  const ifaces = result.interfaces ?? [];
  ifaces.forEach((it, i) => {
    if (it.sandbox !== podNsPath) return;
    const l = byName.get(it.name);
    if (!l) {
      diffs.push(`interfaces[${i}] "${it.name}" (sandbox ${it.sandbox}) does not exist in the pod netns (pod has: ${[...byName.keys()].join(', ')})`);
      return;
    }
    if (it.mac && l.address && it.mac.toLowerCase() !== l.address.toLowerCase())
      diffs.push(`interfaces[${i}] "${it.name}": result mac ${it.mac} but the pod shows ${l.address}`);
    if (typeof it.mtu === 'number' && it.mtu > 0 && l.mtu !== undefined && l.mtu !== it.mtu)
      diffs.push(`interfaces[${i}] "${it.name}": result mtu ${it.mtu} but the pod shows ${l.mtu}`);
  });
  if (!ifaces.some((it) => it.sandbox === podNsPath) && !byName.has(ifName))
    diffs.push(`interface "${ifName}" does not exist in the pod netns (pod has: ${[...byName.keys()].join(', ')})`);
  (result.ips ?? []).forEach((ipc, i) => {
    const c = parseCidr(ipc.address);
    if (typeof c === 'string') return;
    let dev = ifName;
    if (ipc.interface !== undefined) {
      const it = ifaces[ipc.interface];
      if (!it) return;
      if (it.sandbox !== podNsPath) return; // a host-side address; not in the pod
      dev = it.name;
    }
    const l = byName.get(dev);
    if (!l) {
      diffs.push(`ips[${i}] ${ipc.address}: interface "${dev}" does not exist in the pod`);
      return;
    }
    const want = canonicalIp(c.ip);
    const have = (l.addr_info ?? []).filter((a) => (a.family === 'inet' ? 4 : 6) === c.family);
    const hit = have.find((a) => canonicalIp(a.local) === want);
    if (!hit)
      diffs.push(`ips[${i}] ${ipc.address} is not configured on "${dev}" in the pod (it has: ${have.map((a) => `${a.local}/${a.prefixlen}`).join(', ') || 'no IPv' + c.family + ' address'})`);
    else if (hit.prefixlen !== c.prefix) diffs.push(`ips[${i}] ${ipc.address}: the pod has ${hit.local}/${hit.prefixlen} on "${dev}" (prefix differs)`);
  });
  (result.routes ?? []).forEach((r, i) => {
    const c = parseCidr(r.dst);
    if (typeof c === 'string') return;
    const want = normalizeRouteDst(r.dst, c.family);
    const table = r.table === undefined ? undefined : String(r.table);
    const cands = (c.family === 4 ? pod.routes4 : pod.routes6).filter(
      (x) =>
        (x.type === undefined || x.type === 'unicast') &&
        normalizeRouteDst(x.dst, c.family) === want &&
        (table === undefined ? x.table === undefined || x.table === 'main' : x.table === table || (table === '254' && (x.table === undefined || x.table === 'main'))),
    );
    if (!cands.length) {
      diffs.push(`routes[${i}] ${r.dst}${r.gw ? ` via ${r.gw}` : ''} is not in the pod's routing table${table ? ` ${table}` : ''}`);
      return;
    }
    if (r.gw && !cands.some((x) => x.gateway && canonicalIp(x.gateway) === canonicalIp(r.gw!)))
      diffs.push(`routes[${i}] ${r.dst} via ${r.gw}: the pod routes it ${cands.map((x) => (x.gateway ? `via ${x.gateway}` : `directly on ${x.dev}`)).join(', ')}`);
    if (typeof r.priority === 'number' && !cands.some((x) => (x.metric ?? 0) === r.priority))
      diffs.push(`routes[${i}] ${r.dst}: result priority ${r.priority} but the pod shows metric ${cands.map((x) => x.metric ?? 0).join(', ')}`);
  });
  return diffs;
}

// --- the checks ----------------------------------------------------------------------------------

interface Pod {
  ns: string;
  att: Attachment;
  added: boolean;
  nsDeleted: boolean;
  result?: CniResult;
}

export async function runCniChecks(opts: CniCheckOptions): Promise<CheckResult[]> {
  const ifName = opts.ifName ?? 'eth0';
  const wanted = new Set<CniCheckId>(opts.only ?? CNI_CHECK_IDS);
  const ipamDir = join(opts.workDir, 'ipam');
  await mkdir(ipamDir, { recursive: true });
  const list = setIpamDataDir(validateConflist(opts.conflist, `conflist "${(opts.conflist as Partial<Conflist>)?.name ?? '?'}"`), ipamDir);
  const version = effectiveVersion(list);
  const rt = new CniRuntime({
    binDirs: opts.binDirs,
    cacheDir: join(opts.workDir, 'cache'),
    nodeNs: opts.nodeNs,
    timeoutMs: opts.timeoutMs,
    executor: opts.executor,
    ipamDataDir: ipamDir,
  });
  const runTag = randomBytes(3).toString('hex');
  let podSeq = 0;
  const pods: Pod[] = [];
  const results: CheckResult[] = [];

  const newPod = async (label: string): Promise<Pod> => {
    const ns = await opts.makePodNs();
    const pod: Pod = {
      ns,
      att: { containerId: `vxt-${runTag}-${label}${podSeq++}`, netns: netnsPath(ns), ifName, capabilityArgs: opts.capabilityArgs },
      added: false,
      nsDeleted: false,
    };
    pods.push(pod);
    return pod;
  };
  const add = async (p: Pod): Promise<CniResult> => {
    try {
      const r = await rt.add(list, p.att);
      p.added = true;
      p.result = r;
      return r;
    } catch (e) {
      // a half-done ADD is followed by DEL, as a container runtime would
      await rt.del(list, p.att).catch(() => undefined);
      throw e;
    }
  };
  const del = async (p: Pod): Promise<void> => {
    await rt.del(list, p.att);
    p.added = false;
  };
  const dropNs = async (p: Pod): Promise<void> => {
    if (p.nsDeleted) return;
    await opts.deletePodNs(p.ns);
    p.nsDeleted = true;
  };
  const snapshot = async (): Promise<Snapshot> => {
    const links = await ipJson<IpLink[]>(opts.nodeNs, ['link', 'show']);
    return { links: links.map((l) => l.ifname).sort(), alloc: await ipamAllocations(ipamDir, list.name) };
  };

  const record = async (
    id: CniCheckId,
    fn: () => Promise<Partial<CheckResult> & { status: Status }>,
  ): Promise<CheckResult | undefined> => {
    if (!wanted.has(id)) return undefined;
    const t0 = performance.now();
    let r: Partial<CheckResult> & { status: Status };
    try {
      r = await fn();
    } catch (e) {
      r = { status: 'fail', message: errText(e), observed: errObserved(e) };
    }
    const res: CheckResult = { id, suite: 'cni', title: TITLES[id], durationMs: Math.round(performance.now() - t0), ...r };
    if (res.status === 'skip' && !res.skipReason) res.skipReason = res.message;
    results.push(res);
    return res;
  };
  const skip = (why: string) => ({ status: 'skip' as const, message: why, skipReason: why });
  const hasIpam = list.plugins.some((p) => p.ipam?.type);

  try {
    // cni/version ---------------------------------------------------------------------------------
    await record('cni/version', async () => {
      const observed: Record<string, unknown> = {};
      const problems: string[] = [];
      for (const type of pluginTypes(list)) {
        try {
          const v = await rt.version(type, version);
          observed[type] = v.supportedVersions;
          if (!v.supportedVersions.includes(version))
            problems.push(`plugin "${type}" does not support cniVersion ${version} (supports ${v.supportedVersions.join(', ')})`);
        } catch (e) {
          observed[type] = errObserved(e);
          problems.push(errText(e));
        }
      }
      return {
        status: problems.length ? 'fail' : 'pass',
        message: problems.length ? problems.join('; ') : `${pluginTypes(list).length} plugin(s) support ${version}`,
        expected: { cniVersion: version, plugins: pluginTypes(list) },
        observed,
        diffs: problems.length ? problems : undefined,
      };
    });

    // cni/add-result-valid ------------------------------------------------------------------------
    const needA = ['cni/add-result-valid', 'cni/add-matches-netns', 'cni/check-after-add', 'cni/del-idempotent'].some((x) => wanted.has(x as CniCheckId));
    let podA: Pod | undefined;
    let addAError: string | undefined;
    if (needA) {
      const addA = async (): Promise<Pod> => {
        try {
          podA = await newPod('a');
          await add(podA);
          return podA;
        } catch (e) {
          addAError = errText(e);
          throw e;
        }
      };
      if (!wanted.has('cni/add-result-valid')) await addA().catch(() => undefined);
      await record('cni/add-result-valid', async () => {
        const pa = await addA();
        const r = pa.result!;
        const problems: string[] = [];
        const sandboxIf = (r.interfaces ?? []).findIndex((it) => it.name === ifName && it.sandbox === pa.att.netns);
        if (sandboxIf < 0)
          problems.push(`the result lists no interface "${ifName}" with sandbox ${pa.att.netns} (interfaces: ${JSON.stringify(r.interfaces ?? [])})`);
        if (hasIpam && !(r.ips ?? []).length) problems.push('the result has no ips although the network uses IPAM');
        return {
          status: problems.length ? 'fail' : 'pass',
          message: problems.length ? problems.join('; ') : `valid ${r.cniVersion} result: ${(r.ips ?? []).map((x) => x.address).join(', ') || 'no ips'}`,
          expected: { cniVersion: version, interface: { name: ifName, sandbox: pa.att.netns } },
          observed: r,
        };
      });
    }
    const notAdded = () => skip(addAError ? 'ADD failed (see cni/add-result-valid)' : 'ADD was not run');

    // cni/add-matches-netns -----------------------------------------------------------------------
    await record('cni/add-matches-netns', async () => {
      if (!podA?.added) return notAdded();
      const st = await podState(podA.ns);
      const diffs = diffResultAgainstPod(podA.result!, podA.att.netns, ifName, st);
      return {
        status: diffs.length ? 'fail' : 'pass',
        message: diffs.length ? `${diffs.length} difference(s) between the ADD result and pod netns ${podA.ns}: ${diffs.join('; ')}` : `pod netns ${podA.ns} matches the result`,
        expected: { interfaces: podA.result!.interfaces, ips: podA.result!.ips, routes: podA.result!.routes },
        observed: {
          links: st.links.map((l) => ({ name: l.ifname, mac: l.address, mtu: l.mtu, addrs: (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`) })),
          routes: [...st.routes4, ...st.routes6].filter((r) => r.table === undefined || r.table === 'main'),
        },
        diffs: diffs.length ? diffs : undefined,
      };
    });

    // cni/check-after-add -------------------------------------------------------------------------
    await record('cni/check-after-add', async () => {
      if (list.disableCheck) return skip('the conflist sets disableCheck: true');
      if (!podA?.added) return notAdded();
      await rt.check(list, podA.att);
      return { status: 'pass', message: `CHECK of ${list.plugins.length} plugin(s) succeeded` };
    });

    // cni/del-idempotent --------------------------------------------------------------------------
    await record('cni/del-idempotent', async () => {
      if (!podA?.added) return notAdded();
      const steps: Record<string, string> = {};
      const fails: string[] = [];
      const step = async (name: string, f: () => Promise<void>) => {
        try {
          await f();
          steps[name] = 'ok';
        } catch (e) {
          steps[name] = errText(e);
          fails.push(`${name}: ${errText(e)}`);
        }
      };
      await step('first DEL', () => del(podA!));
      await step('second DEL (no cached result)', () => rt.del(list, podA!.att));
      const podC = await newPod('gone');
      let cAdded = true;
      try {
        await add(podC);
      } catch (e) {
        cAdded = false;
        steps['ADD for netns-gone case'] = errText(e);
      }
      if (cAdded) {
        await dropNs(podC);
        await step('DEL after the pod netns was deleted', () => del(podC));
      }
      const status: Status = fails.length ? 'fail' : 'pass';
      return {
        status,
        message: fails.length
          ? fails.join('; ')
          : cAdded
            ? 'DEL, DEL again and DEL with the netns gone all succeeded'
            : `DEL and DEL again succeeded; the netns-gone case was not run (ADD failed: ${steps['ADD for netns-gone case']})`,
        observed: steps,
      };
    });

    // cni/del-cleans-up ---------------------------------------------------------------------------
    await record('cni/del-cleans-up', async () => {
      const pre = await snapshot();
      const anchor = await newPod('anchor');
      try {
        await add(anchor);
      } catch (e) {
        return skip(`ADD failed, nothing to clean up: ${errText(e)}`);
      }
      // the anchor keeps shared infrastructure (e.g. the bridge) in place, so what B leaves behind is B's
      const s0 = await snapshot();
      const b = await newPod('b');
      try {
        await add(b);
      } catch (e) {
        await del(anchor).catch(() => undefined);
        return skip(`ADD failed, nothing to clean up: ${errText(e)}`);
      }
      const sB = await snapshot();
      const diffs: string[] = [];
      try {
        await del(b);
      } catch (e) {
        diffs.push(`DEL failed: ${errText(e)}`);
      }
      const s1 = await snapshot();
      const createdByB = sB.links.filter((l) => !s0.links.includes(l));
      const leftLinks = s1.links.filter((l) => !s0.links.includes(l));
      if (leftLinks.length)
        diffs.push(
          `host-side interface(s) left in node netns ${opts.nodeNs} after DEL: ${leftLinks.join(', ')} (ADD of ${b.att.containerId} created: ${createdByB.join(', ') || 'none'})`,
        );
      const leftAlloc = Object.keys(s1.alloc).filter((ip) => !(ip in s0.alloc));
      if (leftAlloc.length)
        diffs.push(`IPAM allocation(s) left in ${join(ipamDir, list.name)} after DEL: ${leftAlloc.map((ip) => `${ip} (${s1.alloc[ip]})`).join(', ')}`);
      try {
        await del(anchor);
      } catch (e) {
        diffs.push(`DEL of the anchor pod failed: ${errText(e)}`);
      }
      const s2 = await snapshot();
      const leftAlloc2 = Object.keys(s2.alloc).filter((ip) => !(ip in pre.alloc) && !leftAlloc.includes(ip));
      if (leftAlloc2.length)
        diffs.push(`IPAM allocation(s) left after DEL of every pod: ${leftAlloc2.map((ip) => `${ip} (${s2.alloc[ip]})`).join(', ')}`);
      return {
        status: diffs.length ? 'fail' : 'pass',
        message: diffs.length ? diffs.join('; ') : `DEL removed ${createdByB.length} host-side interface(s) (${createdByB.join(', ') || 'none'}) and released its IPAM allocation`,
        expected: { nodeLinks: s0.links, ipamAllocations: Object.keys(s0.alloc), afterAllDeleted: Object.keys(pre.alloc) },
        observed: { nodeLinksAfterAdd: sB.links, nodeLinksAfterDel: s1.links, ipamAfterAdd: sB.alloc, ipamAfterDel: s1.alloc, ipamAfterAllDel: s2.alloc },
        diffs: diffs.length ? diffs : undefined,
      };
    });

    // cni/concurrent-add-distinct-ips -------------------------------------------------------------
    await record('cni/concurrent-add-distinct-ips', async () => {
      const n = Math.max(2, opts.concurrency ?? 4);
      const ps: Pod[] = [];
      for (let i = 0; i < n; i++) ps.push(await newPod('c'));
      const settled = await Promise.allSettled(ps.map((p) => add(p)));
      const errors = settled.flatMap((s, i) => (s.status === 'rejected' ? [`${ps[i]!.att.containerId}: ${errText(s.reason)}`] : []));
      const holders = new Map<string, string[]>();
      ps.forEach((p) => {
        for (const ipc of p.result?.ips ?? []) {
          const c = parseCidr(ipc.address);
          const ip = typeof c === 'string' ? ipc.address : canonicalIp(c.ip);
          holders.set(ip, [...(holders.get(ip) ?? []), p.att.containerId]);
        }
      });
      await Promise.allSettled(ps.filter((p) => p.added).map((p) => del(p)));
      await Promise.allSettled(ps.map((p) => dropNs(p)));
      const dups = [...holders].filter(([, c]) => c.length > 1).map(([ip, c]) => `${ip} was given to ${c.length} pods (${c.join(', ')})`);
      const observed = Object.fromEntries(ps.map((p, i) => [p.att.containerId, p.result?.ips?.map((x) => x.address) ?? errText((settled[i] as PromiseRejectedResult).reason)]));
      if (errors.length)
        return { status: 'fail', message: `${errors.length} of ${n} concurrent ADDs failed; first: ${errors[0]}`, observed, diffs: [...errors, ...dups] };
      if (!holders.size) return skip('the ADD results carry no IP addresses');
      return {
        status: dups.length ? 'fail' : 'pass',
        message: dups.length ? `duplicate IPs across ${n} concurrent ADDs: ${dups.join('; ')}` : `${n} concurrent ADDs got ${holders.size} distinct IPs`,
        expected: `${n} pods with pairwise distinct addresses`,
        observed,
        diffs: dups.length ? dups : undefined,
      };
    });

    // cni/add-missing-field-error -----------------------------------------------------------------
    await record('cni/add-missing-field-error', async () => {
      const p = await newPod('nofield');
      const plugin = list.plugins[0]!;
      const conf = deriveExecConfig(list, plugin, { capabilityArgs: p.att.capabilityArgs });
      delete conf.name; // "name" is a required field of every network configuration
      const expected = 'non-zero exit and {"code": <int>, "msg": <string>} on stdout (typically code 7, invalid network config)';
      let r;
      try {
        r = await rt.invoke(plugin.type, 'ADD', conf, buildEnv('ADD', rt.binDirs, p.att), 0);
      } catch (e) {
        return { status: 'fail', message: `ADD without "name": ${errText(e)}`, expected, observed: errObserved(e) };
      } finally {
        await rt.del(list, p.att).catch(() => undefined);
      }
      if (r.exitCode === 0)
        return {
          status: 'fail',
          message: `plugin "${plugin.type}" ADD without the required "name" field succeeded (exit 0); expected a CNI error`,
          expected,
          observed: { exitCode: 0, stdout: r.stdout.slice(0, 2000) },
        };
      const e = errorFromFailedPlugin(r.stdout, r.stderr, r.exitCode, { plugin: plugin.type, command: 'ADD', pluginIndex: 0 });
      if (e instanceof CniError)
        return {
          status: 'pass',
          message: `plugin "${plugin.type}" returned CNI error ${e.code} (${e.meaning}): ${e.msg}` + (e.cniVersion === undefined ? ' (note: the error object has no cniVersion)' : ''),
          expected,
          observed: { exitCode: r.exitCode, code: e.code, meaning: e.meaning, msg: e.msg, details: e.details, cniVersion: e.cniVersion },
        };
      return { status: 'fail', message: e.message, expected, observed: { exitCode: r.exitCode, stdout: r.stdout.slice(0, 2000), stderr: r.stderr.slice(0, 2000) } };
    });
  } finally {
    // undo whatever is still attached, then drop every pod namespace we made
    for (const p of pods.filter((x) => x.added).reverse()) await del(p).catch(() => undefined);
    for (const p of pods) await dropNs(p).catch(() => undefined);
  }
  return results;
}

