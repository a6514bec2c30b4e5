// ip -j / bridge -j readers: the live state of one namespace.
import { bridgeJson, ipJson } from '../util/exec.ts';

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
  return ipJson<LinkInfo[]>(ns, ['-d', 'link', 'show']);
}
export async function link(ns: string, dev: string): Promise<LinkInfo | undefined> {
  return (await links(ns)).find((l) => l.ifname === dev);
}
export async function routes(ns: string): Promise<RouteInfo[]> {
  return (await ipJson<any[]>(ns, ['-4', 'route', 'show', 'table', 'main'])).map((r) => ({ ...r, flags: r.flags ?? [] }));
}
export async function neighbours(ns: string, dev?: string): Promise<NeighInfo[]> {
  return (await ipJson<any[]>(ns, ['-4', 'neigh', 'show', ...(dev ? ['dev', dev] : [])])).map((n) => ({ ...n, dev: n.dev ?? dev, state: n.state ?? [] }));
}
export async function fdb(ns: string, dev: string): Promise<FdbInfo[]> {
  return (await bridgeJson<any[]>(ns, ['fdb', 'show', 'dev', dev])).map((f) => ({ ...f, ifname: f.ifname ?? dev, flags: f.flags ?? [] }));
}
export async function addrs(ns: string): Promise<any[]> {
  return ipJson(ns, ['addr', 'show']);
}
