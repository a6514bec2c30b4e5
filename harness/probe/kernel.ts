// ip -j / bridge -j readers: the live state of one namespace. A namespace under /var/run/netns (every runtime binds its
// nodes and pods there) is read in-process (#16): the thread enters it with setns and asks rtnetlink itself, parsing the
// answers into the JSON ip/bridge print (harness/runtime/netns/nl-dump*.ts; test/integration/nl-dump.test.ts holds it to
// iproute2's output). VXLAB_STATE_READ=ip, a namespace that is not there, or one that cannot be entered: the processes.
import { existsSync } from 'node:fs';
import { CommandError, ipJson, run } from '../util/exec.ts';
import type { ReadRequest, ReadResult } from '../runtime/netns/nl-dump-read.ts';
import { containsIp, parseAnyCidr } from '../topology/ip.ts';

let reader: typeof import('../runtime/netns/nl-dump-read.ts') | undefined;

/** The namespace's state read in-process, or undefined when it must be read by ip/bridge processes instead. */
export async function readInProcess(ns: string, req: ReadRequest): Promise<ReadResult | undefined> {
  if (process.env.VXLAB_STATE_READ === 'ip' || !existsSync(`/var/run/netns/${ns}`)) return undefined;
  reader ??= await import('../runtime/netns/nl-dump-read.ts');
  const { InNsError } = await import('../runtime/netns/inns.ts');
  // a read is synchronous (setns, dumps, parse: ~45 ms per node at 1,000 nodes) and callers chain them through
  // promises only: without a turn of the event loop between reads, a pool of them holds the loop for the whole suite
  // (44 s at 1,000 nodes) — captures starting meanwhile never see their "listening on", signals wait
  await new Promise<void>((r) => setImmediate(r));
  try {
    return reader.readState(ns, req);
  } catch (e) {
    if (e instanceof InNsError) return undefined;
    throw e;
  }
}

/** A route of `ip -d -j` as ip prints it without -d: type, protocol and scope only when not unicast, boot, global; the table only when not main (and never under a table filter). */
export function plainRoute(r: Record<string, any>, tableFilter: boolean): Record<string, any> {
  const o = { ...r };
  if (o.type === 'unicast') delete o.type;
  if (o.protocol === 'boot') delete o.protocol;
  if (o.scope === 'global') delete o.scope;
  if (tableFilter || o.table === 'main') delete o.table;
  return o;
}
const famOfRoute = (r: { dst: string; gateway?: string }) => ((r.dst === 'default' ? r.gateway : r.dst)?.includes(':') ? 6 : 4);
const famOfIp = (x: string | undefined) => (x?.includes(':') ? 6 : 4);

export interface LinkInfo {
  ifname: string;
  mtu: number;
  address: string;
  operstate: string;
  flags: string[];
  master?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, any> };
}
export interface RouteInfo {
  dst: string;
  gateway?: string;
  dev: string;
  flags: string[];
  scope?: string;
  protocol?: string;
  /** blackhole, unreachable, … (absent: unicast) */
  type?: string;
  /** per-route metrics, e.g. [{ mtu: 1450 }] */
  metrics?: { mtu?: number }[];
}
export interface NeighInfo {
  dst: string;
  dev: string;
  lladdr?: string;
  state: string[];
}
export interface FdbInfo {
  mac: string;
  ifname: string;
  dst?: string;
  flags: string[];
  state?: string;
  port?: number;
  vni?: number;
}

export async function links(ns: string): Promise<LinkInfo[]> {
  const r = await readInProcess(ns, {});
  if (r) return r.links as LinkInfo[];
  return ipJson<LinkInfo[]>(ns, ['-d', 'link', 'show']);
}
export async function link(ns: string, dev: string): Promise<LinkInfo | undefined> {
  return (await links(ns)).find((l) => l.ifname === dev);
}
export async function routes(ns: string, family: 4 | 6 = 4): Promise<RouteInfo[]> {
  // `ip -4|-6 route show table main`: a dump of the family (a default route's family is its own, not its gateway's)
  const r = await readInProcess(ns, { routes: [family] });
  if (r) return r.routes!.filter((x) => x.table === 'main').map((x) => plainRoute(x, true) as RouteInfo);
  return (await ipJson<any[]>(ns, [`-${family}`, 'route', 'show', 'table', 'main'])).map((r) => ({ ...r, flags: r.flags ?? [] }));
}
export async function neighbours(ns: string, dev?: string, family: 4 | 6 = 4): Promise<NeighInfo[]> {
  const r = await readInProcess(ns, { neigh: { dev: dev ?? null } });
  if (r) {
    if (!Array.isArray(r.neigh)) throw new CommandError(['ip', '-j', `-${family}`, 'neigh', 'show', ...(dev ? ['dev', dev] : [])], ns, 1, '', r.neigh!.error, 0);
    return r.neigh.filter((n) => famOfIp(n.dst) === family).map((n) => ({ ...n, dev: n.dev ?? dev, state: n.state ?? [] }) as NeighInfo);
  }
  return (await ipJson<any[]>(ns, [`-${family}`, 'neigh', 'show', ...(dev ? ['dev', dev] : [])])).map((n) => ({ ...n, dev: n.dev ?? dev, state: n.state ?? [] }));
}
export async function fdb(ns: string, dev: string): Promise<FdbInfo[]> {
  const x = await readInProcess(ns, { fdb: { dev } });
  if (x) {
    if (!Array.isArray(x.fdb)) throw new CommandError(['bridge', '-j', 'fdb', 'show', 'dev', dev], ns, 1, '', x.fdb!.error, 0);
    // completed in place: the reader's objects are this call's own (a copy each is a million objects at 1,000 nodes)
    for (const f of x.fdb) {
      f.ifname ??= dev;
      f.flags ??= [];
    }
    return x.fdb as FdbInfo[];
  }
  const r = await run(['bridge', '-j', 'fdb', 'show', 'dev', dev], { ns, netOnly: true });
  const s = r.stdout.trim();
  return ((s ? JSON.parse(s) : []) as any[]).map((f) => ({ ...f, ifname: f.ifname ?? dev, flags: f.flags ?? [] }));
}
export async function addrs(ns: string): Promise<any[]> {
  const r = await readInProcess(ns, { addrs: true });
  if (r) return r.addrs!;
  return ipJson(ns, ['addr', 'show']);
}

/** `ip -j addr show` and `ip -j route show table all` of one namespace (a pod's), in one visit or one `ip -batch` process. */
export async function addrsAndRoutes(ns: string): Promise<{ addrs: any[]; routes: any[] }> {
  const r = await readInProcess(ns, { addrs: true, routes: [4, 6] });
  if (r) return { addrs: r.addrs!, routes: r.routes!.map((x) => plainRoute(x, false)) };
  const [a, rt] = await ipBatch(ns, ['addr show', 'route show table all']);
  return { addrs: (a?.json as any[] | undefined) ?? [], routes: (rt?.json as any[] | undefined) ?? [] };
}

/** One question to the kernel's routing decision: `ip route get DST [from SRC iif IIF]`. */
export interface RouteQuery {
  dst: string;
  from?: string;
  iif?: string;
}
/** The kernel's answer: the route it would use, or the error it gave (blackhole, unreachable, …). */
export interface RouteAnswer {
  q: RouteQuery;
  route?: { dst: string; gateway?: string; dev?: string; table?: string; type?: string; prefsrc?: string };
  error?: string;
}

/**
 * Ask the kernel what it will do with each query, over every table and policy rule (`ip route get`), in one
 * `ip -force -batch` process. An error answer (blackhole → "Invalid argument", unreachable, prohibit) is kept as such.
 */
export async function routeGet(ns: string, qs: RouteQuery[]): Promise<RouteAnswer[]> {
  if (!qs.length) return [];
  const rs = await ipBatch(ns, qs.map(routeGetLine));
  return qs.map((q, i) => answerOf(q, rs[i]!));
}

const routeGetLine = (q: RouteQuery) => `route get ${q.dst}${q.from ? ` from ${q.from}` : ''}${q.iif ? ` iif ${q.iif}` : ''}`;
const answerOf = (q: RouteQuery, r: BatchResult): RouteAnswer => (r.error !== undefined ? { q, error: r.error } : { q, route: (r.json as any[])?.[0] ?? undefined, error: (r.json as any[])?.[0] ? undefined : 'no answer' });

/** One line's outcome in an `ip -batch`: its JSON output, or the error the kernel (or ip) gave. */
export interface BatchResult {
  json?: unknown;
  error?: string;
}

/**
 * Several `ip -j` commands in one `ip -force -batch` process (one process per namespace instead of one per command:
 * at 1,000 nodes the process spawns are what costs). `details` adds -d to every line (link kinds, route types).
 */
export async function ipBatch(ns: string, lines: string[], details = false): Promise<BatchResult[]> {
  if (!lines.length) return [];
  const r = await run(['ip', ...(details ? ['-d'] : []), '-force', '-j', '-batch', '-'], { ns, netOnly: true, input: `${lines.join('\n')}\n`, reject: false });
  // stderr: "RTNETLINK answers: <why>" (or "Cannot find device …") then "Command failed -:<line>" for every line that failed
  const errors = new Map<number, string>();
  let last = '';
  for (const l of r.stderr.split('\n')) {
    const m = /^Command failed -:(\d+)/.exec(l.trim());
    if (m) errors.set(Number(m[1]) - 1, last.replace(/^RTNETLINK answers:\s*/, '').trim() || 'error');
    else if (l.trim()) last = l.trim();
  }
  const outs = r.stdout.split('\n').filter((l) => l.trim().startsWith('['));
  if (outs.length !== lines.length - errors.size) throw new Error(`ip -batch in ${ns}: ${lines.length} commands, ${errors.size} failed, but ${outs.length} JSON outputs (exit ${r.exitCode}): ${r.stderr.trim().split('\n')[0] ?? ''}`);
  let k = 0;
  return lines.map((_, i) => (errors.has(i) ? { error: errors.get(i)! } : { json: JSON.parse(outs[k++]!) }));
}

/** A node's VXLAN-relevant state, read in one `ip -d -batch` process: links, main-table routes, the VTEP's neighbours, and the kernel's answer to each route query. */
export interface NodeSnapshot {
  links: LinkInfo[];
  routes: RouteInfo[];
  neigh: NeighInfo[];
  answers: RouteAnswer[];
}

/**
 * `neighOnly`: read just these neighbours of the VTEP, each looked up (in-process only; the processes list them all):
 * a neighbour dump walks the kernel's host-wide table, every namespace's entries (two million at 1,000 nodes).
 */
export async function nodeSnapshot(ns: string, vtepDev: string, families: (4 | 6)[], qs: RouteQuery[] = [], neighOnly?: string[], read?: ReadResult): Promise<NodeSnapshot> {
  const x = read ?? (await readInProcess(ns, snapshotRequest(vtepDev, qs, neighOnly)));
  if (x) {
    // the reader's objects are this call's own: completed in place, not copied (a million routes at 1,000 nodes)
    const routes = x.routes!.filter((r) => (r.table ?? 'main') === 'main' && families.includes(famOfRoute(r as RouteInfo))) as RouteInfo[];
    for (const r of routes as Record<string, any>[]) {
      r.table = undefined; // not deleted: a deleted key turns the object into a slow dictionary
      r.flags ??= [];
    }
    const neigh = !Array.isArray(x.neigh) ? [] : (x.neigh.filter((n) => families.includes(famOfIp(n.dst))) as NeighInfo[]);
    for (const n of neigh) {
      n.dev ??= vtepDev;
      n.state ??= [];
    }
    // the reader's answers, completed in place with their question (a million of them at 1,000 nodes)
    const answers = qs.map((q, i): RouteAnswer => {
      const a = x.answers![i]! as RouteAnswer;
      a.q = q;
      return a;
    });
    return { links: x.links as LinkInfo[], routes, neigh, answers };
  }
  const [l, rt, ng, ...as] = await ipBatch(ns, ['link show', 'route show table all', `neigh show dev ${vtepDev}`, ...qs.map(routeGetLine)], true);
  if (l!.error !== undefined) throw new Error(`ip link show in ${ns}: ${l!.error}`);
  if (rt!.error !== undefined) throw new Error(`ip route show in ${ns}: ${rt!.error}`);
  const fam = (x: string | undefined) => (x?.includes(':') ? 6 : 4);
  const routes = ((rt!.json as any[]) ?? [])
    .filter((r) => (r.table ?? 'main') === 'main' && families.includes(fam(r.dst === 'default' ? r.gateway : r.dst)))
    .map((r) => {
      const { table: _t, ...rest } = r;
      return { ...rest, flags: r.flags ?? [] } as RouteInfo;
    });
  // a missing VTEP device: no neighbours (the device check names it)
  const neigh = ng!.error !== undefined ? [] : ((ng!.json as any[]) ?? []).filter((n) => families.includes(fam(n.dst))).map((n) => ({ ...n, dev: n.dev ?? vtepDev, state: n.state ?? [] }));
  return { links: (l!.json as LinkInfo[]) ?? [], routes, neigh, answers: qs.map((q, i) => answerOf(q, as[i]!)) };
}

/** What nodeSnapshot asks of the in-process reader (with `fdb`: the VTEP's FDB too, for fdbOf, in the same visit). */
export function snapshotRequest(vtepDev: string, qs: RouteQuery[], neighOnly?: string[], fdb = false): ReadRequest {
  return { routes: [4, 6], neigh: { dev: vtepDev, only: neighOnly }, gets: qs, ...(fdb ? { fdb: { dev: vtepDev } } : {}) };
}

/** fdb(ns, dev) from a read that asked for it (snapshotRequest(…, true)); a missing device: no entries. */
export function fdbOf(x: ReadResult, dev: string): FdbInfo[] {
  if (!Array.isArray(x.fdb)) return [];
  for (const f of x.fdb) {
    f.ifname ??= dev;
    f.flags ??= [];
  }
  return x.fdb as FdbInfo[];
}

/**
 * Read many namespaces in-process with a worker thread reading a share of them (every other one) on another core
 * while this thread reads the rest (#16: at 1,000 nodes the routes suite's reads were ~40 s of one core). `each` gets
 * every namespace's result, or undefined where it must be read the other way (processes; see readInProcess). Only
 * worth it when a core is idle: the caller decides. A worker that fails to start, or dies, leaves its share to this thread.
 */
export async function readSharedInProcess(jobs: { ns: string; req: ReadRequest }[], each: (i: number, r: ReadResult | undefined) => Promise<void>): Promise<void> {
  const { tsWorker } = await import('../vtep/worker-boot.ts');
  const { moduleUrl } = await import('../util/module.ts');
  const { currentSignal, throwIfAborted } = await import('../util/scope.ts');
  const signal = currentSignal();
  const theirs = jobs.map((j, i) => ({ i, ...j })).filter((_, i) => i % 2 === 1);
  const mine = new Set(jobs.map((_, i) => i).filter((i) => i % 2 === 0));
  const pending = new Set(theirs.map((j) => j.i));
  const work: Promise<void>[] = [];
  let failed: unknown;
  const keep = (p: Promise<void>) => work.push(p.catch((e) => void (failed ??= e)));
  let w: import('node:worker_threads').Worker | undefined;
  try {
    w = tsWorker(moduleUrl('../runtime/netns/nl-dump-worker.ts', import.meta.url), { workerData: { jobs: theirs } });
  } catch {
    w = undefined;
  }
  const workerDone = new Promise<void>((done) => {
    if (!w) return done();
    const onAbort = () => w!.postMessage({ type: 'stop' });
    signal?.addEventListener('abort', onAbort, { once: true });
    w.on('message', (m: any) => {
      if (m.type === 'read') {
        pending.delete(m.i);
        if (m.error) failed ??= new Error(m.error);
        else keep(each(m.i, m.fallback ? undefined : m.r));
      } else if (m.type === 'done') done();
    });
    w.on('error', () => done());
    w.on('exit', () => {
      signal?.removeEventListener('abort', onAbort);
      done();
    });
  });
  try {
    for (const i of mine) {
      throwIfAborted(signal);
      await each(i, await readInProcess(jobs[i]!.ns, jobs[i]!.req));
    }
    await workerDone;
  } finally {
    await w?.terminate();
  }
  throwIfAborted(signal);
  // what the worker did not read (it failed or stopped): read here
  for (const i of pending) await each(i, await readInProcess(jobs[i]!.ns, jobs[i]!.req));
  await Promise.all(work);
  if (failed) throw failed;
}

/** Routes in every table that cover `ip`, most specific first (what would have matched, for naming a cause). */
export async function routesCovering(ns: string, ip: string): Promise<{ dst: string; type?: string; gateway?: string; dev?: string; table?: string }[]> {
  const v6 = ip.includes(':');
  const x = await readInProcess(ns, { routes: [v6 ? 6 : 4] });
  // ip's `match`: the routes whose prefix holds the address (a default route holds every address of its family)
  const holds = (d: string) => {
    if (d === 'default') return true;
    try {
      return containsIp(parseAnyCidr(d.includes('/') ? d : `${d}/${v6 ? 128 : 32}`, false), ip);
    } catch {
      return false;
    }
  };
  const rs = x ? x.routes!.filter((r) => holds(r.dst)).map((r) => plainRoute(r, false)) : await ipJson<any[]>(ns, [v6 ? '-6' : '-4', 'route', 'show', 'table', 'all', 'match', ip]);
  const len = (d: string) => (d === 'default' ? 0 : Number(d.split('/')[1] ?? (v6 ? 128 : 32)));
  return rs.filter((x) => x.table !== 'local' || x.type !== 'broadcast').sort((a, b) => len(b.dst) - len(a.dst));
}

/** Current values of sysctls inside a namespace; a key the kernel does not have maps to undefined. */
export async function sysctls(ns: string, keys: string[]): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = Object.fromEntries(keys.map((k) => [k, undefined]));
  if (!keys.length) return out;
  const r = await run(['sysctl', ...keys], { ns, netOnly: true, reject: false });
  for (const l of r.stdout.split('\n')) {
    const m = /^(\S+)\s*=\s*(.*)$/.exec(l.trim());
    if (m && m[1]! in out) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

/** One-line description of a kernel answer: "via 192.168.1.3 dev eth0 (table 100)", "blackhole", … */
export function describeAnswer(a: RouteAnswer): string {
  if (a.error) return `error: ${a.error}`;
  const r = a.route!;
  const parts = [r.type && r.type !== 'unicast' ? r.type : '', r.gateway ? `via ${r.gateway}` : '', r.dev ? `dev ${r.dev}` : ''].filter(Boolean);
  return `${parts.join(' ') || 'no route'}${r.table && r.table !== 'main' ? ` (table ${r.table})` : ''}`;
}
