// CNI result types and their validation (spec 1.0.0 / 1.1.0 results, plus 0.4.0 results).
import { CniError, CniRuntimeError, type CniCommand, type ResultProblem } from './errors.ts';
import { canonicalIp, describeType, ipFamily, parseCidr } from './ip.ts';

export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0', '1.1.0'] as const;
export type SupportedVersion = (typeof SUPPORTED_VERSIONS)[number];

export interface CniInterface {
  name: string;
  mac?: string;
  /** 1.1.0 */
  mtu?: number;
  sandbox?: string;
  /** 1.1.0 */
  socketPath?: string;
  /** 1.1.0 */
  pciID?: string;
  [k: string]: unknown;
}

export interface CniIpConfig {
  address: string;
  gateway?: string;
  interface?: number;
  /** 0.4.0 only ("4" | "6") */
  version?: string;
  [k: string]: unknown;
}

export interface CniRoute {
  dst: string;
  gw?: string;
  /** 1.1.0 */
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
  [k: string]: unknown;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: CniRoute[];
  dns?: CniDns;
  [k: string]: unknown;
}

export interface VersionResult {
  cniVersion: string;
  supportedVersions: string[];
}

export interface ErrorResult {
  cniVersion?: string;
  code: number;
  msg: string;
  details?: string;
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

export function isSupportedVersion(v: unknown): v is SupportedVersion {
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

const MAC_RE = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$|^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){19}$/;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/**
 * Validate a plugin's result document against the spec for `expectedVersion`. Returns the list of
 * problems (empty when valid). `raw` is the already-parsed JSON.
 */
export function resultProblems(raw: unknown, expectedVersion: string): ResultProblem[] {
  const p: ResultProblem[] = [];
  const add = (field: string, problem: string) => p.push({ field, problem });
  if (!isObj(raw)) {
    add('(result)', `must be a JSON object, got ${describeType(raw)}`);
    return p;
  }
  if (raw.cniVersion === undefined) add('cniVersion', 'missing (required)');
  else if (typeof raw.cniVersion !== 'string') add('cniVersion', `must be a string, got ${describeType(raw.cniVersion)}`);
  else if (raw.cniVersion !== expectedVersion)
    add('cniVersion', `is "${raw.cniVersion}" but the runtime requested "${expectedVersion}" (result version must equal the config's cniVersion)`);
  const v = typeof raw.cniVersion === 'string' && isSupportedVersion(raw.cniVersion) ? raw.cniVersion : expectedVersion;
  const is110 = compareVersions(v, '1.1.0') >= 0;
  const is04 = compareVersions(v, '1.0.0') < 0;

  // interfaces
  let nIfaces = 0;
  let ifacesOk = true;
  if (raw.interfaces !== undefined) {
    if (!Array.isArray(raw.interfaces)) {
      add('interfaces', `must be an array, got ${describeType(raw.interfaces)}`);
      ifacesOk = false;
    } else {
      nIfaces = raw.interfaces.length;
      raw.interfaces.forEach((it, i) => {
        const f = `interfaces[${i}]`;
        if (!isObj(it)) return add(f, `must be an object, got ${describeType(it)}`);
        if (it.name === undefined) add(`${f}.name`, 'missing (required)');
        else if (typeof it.name !== 'string' || it.name === '') add(`${f}.name`, `must be a non-empty string, got ${describeType(it.name)}`);
        if (it.mac !== undefined && (typeof it.mac !== 'string' || (it.mac !== '' && !MAC_RE.test(it.mac))))
          add(`${f}.mac`, `${describeType(it.mac)} is not a MAC address`);
        if (it.sandbox !== undefined && typeof it.sandbox !== 'string') add(`${f}.sandbox`, `must be a string, got ${describeType(it.sandbox)}`);
        if (is110) {
          if (it.mtu !== undefined && !isUint(it.mtu)) add(`${f}.mtu`, `must be a non-negative integer, got ${describeType(it.mtu)}`);
          for (const k of ['socketPath', 'pciID'] as const)
            if (it[k] !== undefined && typeof it[k] !== 'string') add(`${f}.${k}`, `must be a string, got ${describeType(it[k])}`);
        }
      });
    }
  }

  // ips
  if (raw.ips !== undefined) {
    if (!Array.isArray(raw.ips)) add('ips', `must be an array, got ${describeType(raw.ips)}`);
    else
      raw.ips.forEach((ipc, i) => {
        const f = `ips[${i}]`;
        if (!isObj(ipc)) return add(f, `must be an object, got ${describeType(ipc)}`);
        let fam: 4 | 6 | 0 = 0;
        if (ipc.address === undefined) add(`${f}.address`, 'missing (required)');
        else {
          const c = parseCidr(ipc.address);
          if (typeof c === 'string') add(`${f}.address`, c);
          else fam = c.family;
        }
        if (ipc.gateway !== undefined) {
          const gf = typeof ipc.gateway === 'string' ? ipFamily(ipc.gateway) : 0;
          if (!gf) add(`${f}.gateway`, `${describeType(ipc.gateway)} is not an IP address`);
          else if (fam && gf !== fam) add(`${f}.gateway`, `"${ipc.gateway}" is IPv${gf} but address "${String(ipc.address)}" is IPv${fam}`);
        }
        if (ipc.interface !== undefined) {
          if (!isUint(ipc.interface)) add(`${f}.interface`, `must be a non-negative integer index into interfaces, got ${describeType(ipc.interface)}`);
          else if (ifacesOk && ipc.interface >= nIfaces)
            add(
              `${f}.interface`,
              nIfaces === 0
                ? `index ${ipc.interface} points at nothing (the result has no interfaces)`
                : `index ${ipc.interface} points at nothing (interfaces has ${nIfaces} entr${nIfaces === 1 ? 'y' : 'ies'}, valid 0..${nIfaces - 1})`,
            );
        }
        if (is04) {
          if (ipc.version === undefined) add(`${f}.version`, 'missing (required in 0.4.0 results: "4" or "6")');
          else if (ipc.version !== '4' && ipc.version !== '6') add(`${f}.version`, `must be "4" or "6", got ${describeType(ipc.version)}`);
          else if (fam && ipc.version !== String(fam)) add(`${f}.version`, `is "${ipc.version}" but address "${String(ipc.address)}" is IPv${fam}`);
        }
      });
  }

  // routes
  if (raw.routes !== undefined) {
    if (!Array.isArray(raw.routes)) add('routes', `must be an array, got ${describeType(raw.routes)}`);
    else
      raw.routes.forEach((r, i) => {
        const f = `routes[${i}]`;
        if (!isObj(r)) return add(f, `must be an object, got ${describeType(r)}`);
        let fam: 4 | 6 | 0 = 0;
        if (r.dst === undefined) add(`${f}.dst`, 'missing (required)');
        else {
          const c = parseCidr(r.dst);
          if (typeof c === 'string') add(`${f}.dst`, c);
          else fam = c.family;
        }
        if (r.gw !== undefined) {
          const gf = typeof r.gw === 'string' ? ipFamily(r.gw) : 0;
          if (!gf) add(`${f}.gw`, `${describeType(r.gw)} is not an IP address`);
          else if (fam && gf !== fam) add(`${f}.gw`, `"${r.gw}" is IPv${gf} but dst "${String(r.dst)}" is IPv${fam}`);
        }
        if (is110)
          for (const k of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const)
            if (r[k] !== undefined && !isUint(r[k])) add(`${f}.${k}`, `must be a non-negative integer, got ${describeType(r[k])}`);
      });
  }

  // dns
  if (raw.dns !== undefined) {
    if (!isObj(raw.dns)) add('dns', `must be an object, got ${describeType(raw.dns)}`);
    else {
      const d = raw.dns;
      for (const k of ['nameservers', 'search', 'options'] as const) {
        if (d[k] === undefined) continue;
        if (!Array.isArray(d[k]) || !(d[k] as unknown[]).every((x) => typeof x === 'string'))
          add(`dns.${k}`, `must be an array of strings, got ${describeType(d[k])}`);
      }
      if (Array.isArray(d.nameservers))
        d.nameservers.forEach((ns, i) => {
          if (typeof ns === 'string' && !ipFamily(ns)) add(`dns.nameservers[${i}]`, `"${ns}" is not an IP address`);
        });
      if (d.domain !== undefined && typeof d.domain !== 'string') add('dns.domain', `must be a string, got ${describeType(d.domain)}`);
    }
  }
  return p;
}

export interface PluginRef {
  plugin: string;
  command: CniCommand;
  pluginIndex?: number;
}

function whereOf(ref: PluginRef): string {
  return `plugin "${ref.plugin}"${ref.pluginIndex === undefined ? '' : ` (plugins[${ref.pluginIndex}])`} ${ref.command}`;
}

function snippet(s: string, n = 200): string {
  const t = s.trim();
  return JSON.stringify(t.length > n ? `${t.slice(0, n)}…` : t);
}

/** Parse stdout as JSON or throw an `invalid-output` error naming the plugin. */
export function parseJsonOutput(stdout: string, ref: PluginRef, what: string, extra: { stderr?: string; exitCode?: number } = {}): unknown {
  if (stdout.trim() === '') {
    throw new CniRuntimeError('invalid-output', `${whereOf(ref)} printed nothing on stdout; expected ${what}`, { ...ref, ...extra, stdout });
  }
  try {
    return JSON.parse(stdout);
  } catch (e) {
    throw new CniRuntimeError(
      'invalid-output',
      `${whereOf(ref)} printed malformed JSON on stdout (${(e as Error).message}); expected ${what}; stdout was ${snippet(stdout)}`,
      { ...ref, ...extra, stdout },
    );
  }
}

/** Validate a parsed result, throwing `invalid-result` with every problem listed. */
export function validateResult(raw: unknown, expectedVersion: string, ref: PluginRef): CniResult {
  const problems = resultProblems(raw, expectedVersion);
  if (problems.length) {
    throw new CniRuntimeError(
      'invalid-result',
      `${whereOf(ref)} returned an invalid result: ${problems.map((x) => `${x.field}: ${x.problem}`).join('; ')}`,
      { ...ref, problems },
    );
  }
  return raw as CniResult;
}

/** Parse + validate an ADD result. */
export function parseResult(stdout: string, expectedVersion: string, ref: PluginRef): CniResult {
  return validateResult(parseJsonOutput(stdout, ref, `a CNI ${expectedVersion} result`), expectedVersion, ref);
}

/** Problems of an error document (`{code, msg, details}`); empty when it is well-formed. */
export function errorResultProblems(raw: unknown): ResultProblem[] {
  const p: ResultProblem[] = [];
  if (!isObj(raw)) return [{ field: '(error)', problem: `must be a JSON object, got ${describeType(raw)}` }];
  if (raw.code === undefined) p.push({ field: 'code', problem: 'missing (required)' });
  else if (!isUint(raw.code)) p.push({ field: 'code', problem: `must be a non-negative integer, got ${describeType(raw.code)}` });
  if (raw.msg === undefined) p.push({ field: 'msg', problem: 'missing (required)' });
  else if (typeof raw.msg !== 'string') p.push({ field: 'msg', problem: `must be a string, got ${describeType(raw.msg)}` });
  if (raw.details !== undefined && typeof raw.details !== 'string')
    p.push({ field: 'details', problem: `must be a string, got ${describeType(raw.details)}` });
  if (raw.cniVersion !== undefined && typeof raw.cniVersion !== 'string')
    p.push({ field: 'cniVersion', problem: `must be a string, got ${describeType(raw.cniVersion)}` });
  return p;
}

/**
 * Turn a failed plugin invocation (non-zero exit) into the right error: a CniError when stdout
 * holds a well-formed error object, a CniRuntimeError ('plugin-failed') otherwise.
 */
export function errorFromFailedPlugin(stdout: string, stderr: string, exitCode: number, ref: PluginRef): CniError | CniRuntimeError {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch {
    raw = undefined;
  }
  const err = stderr.trim() ? `; stderr: ${snippet(stderr, 400)}` : '';
  if (raw === undefined) {
    return new CniRuntimeError(
      'plugin-failed',
      `${whereOf(ref)} exited with status ${exitCode} without a CNI error object on stdout` +
        (stdout.trim() ? ` (stdout is not JSON: ${snippet(stdout)})` : ' (stdout empty)') + err,
      { ...ref, exitCode, stdout, stderr },
    );
  }
  const problems = errorResultProblems(raw);
  if (problems.length) {
    return new CniRuntimeError(
      'plugin-failed',
      `${whereOf(ref)} exited with status ${exitCode} and a malformed error object: ${problems.map((x) => `${x.field}: ${x.problem}`).join('; ')}` + err,
      { ...ref, exitCode, stdout, stderr, problems },
    );
  }
  const e = raw as unknown as ErrorResult;
  return new CniError(e.code, e.msg, e.details, ref.plugin, ref.command, ref.pluginIndex, e.cniVersion, stderr, exitCode);
}

export function validateVersionResult(raw: unknown, ref: PluginRef): VersionResult {
  const problems: ResultProblem[] = [];
  if (!isObj(raw)) problems.push({ field: '(result)', problem: `must be a JSON object, got ${describeType(raw)}` });
  else {
    if (typeof raw.cniVersion !== 'string') problems.push({ field: 'cniVersion', problem: raw.cniVersion === undefined ? 'missing (required)' : `must be a string, got ${describeType(raw.cniVersion)}` });
    if (!Array.isArray(raw.supportedVersions) || !raw.supportedVersions.every((x) => typeof x === 'string'))
      problems.push({ field: 'supportedVersions', problem: raw.supportedVersions === undefined ? 'missing (required)' : `must be an array of strings, got ${describeType(raw.supportedVersions)}` });
  }
  if (problems.length)
    throw new CniRuntimeError('invalid-result', `${whereOf(ref)} returned an invalid version result: ${problems.map((x) => `${x.field}: ${x.problem}`).join('; ')}`, { ...ref, problems });
  return raw as unknown as VersionResult;
}

/**
 * Chained plugins must pass prevResult through (adding to it, not dropping from it). Returns one
 * line per interface / address that prevResult had and `next` lacks.
 */
export function droppedFromPrevResult(prev: CniResult, next: CniResult): string[] {
  const out: string[] = [];
  const nextIfs = new Set((next.interfaces ?? []).map((i) => `${i.name}\u0000${i.sandbox ?? ''}`));
  (prev.interfaces ?? []).forEach((i, idx) => {
    if (!nextIfs.has(`${i.name}\u0000${i.sandbox ?? ''}`))
      out.push(`interfaces[${idx}] "${i.name}"${i.sandbox ? ` (sandbox ${i.sandbox})` : ''} missing`);
  });
  const key = (a: string) => {
    const c = parseCidr(a);
    return typeof c === 'string' ? a : `${canonicalIp(c.ip)}/${c.prefix}`;
  };
  const nextIps = new Set((next.ips ?? []).map((i) => key(i.address)));
  (prev.ips ?? []).forEach((i, idx) => {
    if (!nextIps.has(key(i.address))) out.push(`ips[${idx}] ${i.address} missing`);
  });
  return out;
}

/** Convert a 0.4.0 result to the 1.0.0 shape (drops `ips[].version`). Leaves 1.x results alone. */
export function toV1Result(r: CniResult): CniResult {
  if (compareVersions(r.cniVersion, '1.0.0') >= 0) return r;
  return {
    ...r,
    cniVersion: '1.0.0',
    ips: r.ips?.map(({ version: _v, ...rest }) => rest as CniIpConfig),
  };
}
