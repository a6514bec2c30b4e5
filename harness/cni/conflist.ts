// Network configuration lists (".conflist"): loading, validation and small rewrites.
import { readFile } from 'node:fs/promises';
import { CniConfigError } from './errors.ts';
import { cidrContains, describeType, parseCidr } from './ip.ts';
import { compareVersions, isSupportedVersion, SUPPORTED_VERSIONS } from './result.ts';

export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  ipam?: { type?: string; [k: string]: unknown };
  dns?: Record<string, unknown>;
  args?: Record<string, unknown>;
  [k: string]: unknown;
}

export interface Conflist {
  cniVersion: string;
  /** 1.1.0: versions this config is valid for; the runtime uses the highest it supports */
  cniVersions?: string[];
  name: string;
  disableCheck?: boolean;
  /** 1.1.0 */
  disableGC?: boolean;
  /** 1.1.0 */
  loadOnlyInlinedPlugins?: boolean;
  plugins: PluginConf[];
}

export const CONFLIST_FIELDS = ['cniVersion', 'cniVersions', 'name', 'disableCheck', 'disableGC', 'loadOnlyInlinedPlugins', 'plugins'] as const;

/** Spec: network name and container id syntax. */
export const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validate an in-memory conflist; `source` names it in errors (a file path or "<inline>"). */
export function validateConflist(raw: unknown, source = '<inline conflist>'): Conflist {
  const fail = (field: string | undefined, problem: string): never => {
    throw new CniConfigError(source, field, problem);
  };
  if (!isObj(raw)) return fail(undefined, `a network configuration list must be a JSON object, got ${describeType(raw)}`);
  const unknown = Object.keys(raw).filter((k) => !(CONFLIST_FIELDS as readonly string[]).includes(k));
  if (unknown.length)
    fail(
      unknown[0],
      `unknown top-level field${unknown.length > 1 ? `s ${unknown.map((u) => `"${u}"`).join(', ')}` : ''} (allowed: ${CONFLIST_FIELDS.join(', ')}` +
        (raw.type !== undefined ? `; "type" belongs inside "plugins" entries — this looks like a single-plugin .conf, not a .conflist` : '') +
        ')',
    );
  if (raw.cniVersion === undefined) fail('cniVersion', 'missing (required)');
  if (typeof raw.cniVersion !== 'string') fail('cniVersion', `must be a string, got ${describeType(raw.cniVersion)}`);
  if (raw.cniVersions !== undefined) {
    if (!Array.isArray(raw.cniVersions) || !raw.cniVersions.every((v) => typeof v === 'string'))
      fail('cniVersions', `must be an array of version strings, got ${describeType(raw.cniVersions)}`);
    if (!(raw.cniVersions as string[]).some(isSupportedVersion))
      fail('cniVersions', `none of ${JSON.stringify(raw.cniVersions)} is supported by this runtime (supported: ${SUPPORTED_VERSIONS.join(', ')})`);
  } else if (!isSupportedVersion(raw.cniVersion)) {
    fail('cniVersion', `"${raw.cniVersion as string}" is not supported by this runtime (supported: ${SUPPORTED_VERSIONS.join(', ')})`);
  }
  if (raw.name === undefined) fail('name', 'missing (required)');
  if (typeof raw.name !== 'string' || !NAME_RE.test(raw.name))
    fail('name', `${describeType(raw.name)} is not a valid network name (must start with a letter or digit, then letters, digits, "_", "." or "-")`);
  for (const k of ['disableCheck', 'disableGC', 'loadOnlyInlinedPlugins'] as const)
    if (raw[k] !== undefined && typeof raw[k] !== 'boolean') fail(k, `must be a boolean, got ${describeType(raw[k])}`);
  if (raw.plugins === undefined)
    fail('plugins', 'missing (required; loading plugin configurations from a directory is not supported by this runtime)');
  if (!Array.isArray(raw.plugins)) fail('plugins', `must be an array, got ${describeType(raw.plugins)}`);
  const plugins = raw.plugins as unknown[];
  if (plugins.length === 0) fail('plugins', 'is empty (at least one plugin is required)');
  plugins.forEach((p, i) => {
    const f = `plugins[${i}]`;
    if (!isObj(p)) return fail(f, `must be an object, got ${describeType(p)}`);
    if (p.type === undefined) fail(`${f}.type`, 'missing (required: the plugin executable name)');
    if (typeof p.type !== 'string' || p.type === '') fail(`${f}.type`, `must be a non-empty string, got ${describeType(p.type)}`);
    if ((p.type as string).includes('/') || p.type === '.' || p.type === '..')
      fail(`${f}.type`, `"${p.type as string}" is not a plugin name (must not contain "/")`);
    if (p.capabilities !== undefined) {
      if (!isObj(p.capabilities)) fail(`${f}.capabilities`, `must be an object of booleans, got ${describeType(p.capabilities)}`);
      for (const [k, v] of Object.entries(p.capabilities as object))
        if (typeof v !== 'boolean') fail(`${f}.capabilities.${k}`, `must be a boolean, got ${describeType(v)}`);
    }
    if (p.ipam !== undefined) {
      if (!isObj(p.ipam)) fail(`${f}.ipam`, `must be an object, got ${describeType(p.ipam)}`);
      const ipam = p.ipam as Record<string, unknown>;
      if (ipam.type !== undefined && (typeof ipam.type !== 'string' || ipam.type.includes('/')))
        fail(`${f}.ipam.type`, `must be a plugin name, got ${describeType(ipam.type)}`);
    }
    if (p.dns !== undefined && !isObj(p.dns)) fail(`${f}.dns`, `must be an object, got ${describeType(p.dns)}`);
    if (p.args !== undefined && !isObj(p.args)) fail(`${f}.args`, `must be an object, got ${describeType(p.args)}`);
  });
  return raw as unknown as Conflist;
}

/** Read and validate a conflist file. Errors name the file and the offending field. */
export async function loadConflist(file: string): Promise<Conflist> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CniConfigError(
      file,
      undefined,
      code === 'ENOENT' ? 'file does not exist' : code === 'EISDIR' ? 'is a directory, not a conflist file' : `cannot read: ${(e as Error).message}`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    let where = '';
    if (m) {
      const pos = Number(m[1]);
      const before = text.slice(0, pos);
      const line = before.split('\n').length;
      const col = pos - before.lastIndexOf('\n');
      where = ` at line ${line} column ${col}`;
    }
    throw new CniConfigError(file, undefined, `invalid JSON${where}: ${msg}`);
  }
  return validateConflist(raw, file);
}

/** The protocol version the runtime uses with this list (highest supported of `cniVersions`, else `cniVersion`). */
export function effectiveVersion(list: Conflist): string {
  if (list.cniVersions?.length) {
    const ok = list.cniVersions.filter(isSupportedVersion).sort(compareVersions);
    if (ok.length) return ok[ok.length - 1]!;
  }
  return list.cniVersion;
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/**
 * Put a node's pod subnet(s) into the host-local IPAM section of every plugin that uses it.
 * With `ranges`, the range set of the same address family is replaced (or one is appended);
 * with the legacy `subnet` key it is replaced; otherwise `ranges` is created. `rangeStart`,
 * `rangeEnd` and `gateway` that fall outside the new subnet are dropped. Returns a copy.
 */
export function injectSubnet(list: Conflist, subnet: string | string[]): Conflist {
  const subnets = Array.isArray(subnet) ? subnet : [subnet];
  const parsed = subnets.map((s) => {
    const c = parseCidr(s);
    if (typeof c === 'string') throw new CniConfigError('injectSubnet', 'subnet', c);
    return c;
  });
  const out = clone(list);
  let touched = 0;
  for (const p of out.plugins) {
    const ipam = p.ipam as Record<string, unknown> | undefined;
    if (!ipam || ipam.type !== 'host-local') continue;
    touched++;
    const keep = (r: Record<string, unknown>, s: string) => {
      const n: Record<string, unknown> = { subnet: s };
      for (const k of ['rangeStart', 'rangeEnd', 'gateway'] as const)
        if (typeof r[k] === 'string' && cidrContains(s, r[k] as string)) n[k] = r[k];
      return n;
    };
    if (Array.isArray(ipam.ranges)) {
      const ranges = ipam.ranges as Record<string, unknown>[][];
      subnets.forEach((s, i) => {
        const fam = parsed[i]!.family;
        const idx = ranges.findIndex((set) => {
          const first = Array.isArray(set) ? set[0] : undefined;
          const c = first ? parseCidr(first.subnet) : 'none';
          return typeof c !== 'string' && c.family === fam;
        });
        if (idx >= 0) ranges[idx] = [keep(ranges[idx]![0]!, s)];
        else ranges.push([{ subnet: s }]);
      });
    } else if (typeof ipam.subnet === 'string' && subnets.length === 1) {
      const k = keep(ipam, subnets[0]!);
      delete ipam.rangeStart;
      delete ipam.rangeEnd;
      delete ipam.gateway;
      Object.assign(ipam, k);
    } else {
      delete ipam.subnet;
      ipam.ranges = subnets.map((s) => [{ subnet: s }]);
    }
  }
  if (!touched) throw new CniConfigError(`conflist "${list.name}"`, 'plugins[].ipam', 'no plugin uses host-local IPAM; nothing to inject the subnet into');
  return out;
}

/** Point every host-local IPAM section at `dataDir` (never the system-wide /var/lib/cni). Returns a copy. */
export function setIpamDataDir(list: Conflist, dataDir: string): Conflist {
  const out = clone(list);
  for (const p of out.plugins) {
    if (p.ipam && p.ipam.type === 'host-local') p.ipam.dataDir = dataDir;
  }
  return out;
}

/** Plugin types the list needs (main plugins and their IPAM plugins), in order, without duplicates. */
export function pluginTypes(list: Conflist): string[] {
  const out: string[] = [];
  for (const p of list.plugins) {
    if (!out.includes(p.type)) out.push(p.type);
    const t = p.ipam?.type;
    if (typeof t === 'string' && t && !out.includes(t)) out.push(t);
  }
  return out;
}
