// A CNI runtime: the part of a container runtime that executes CNI plugins for a network
// configuration list. Implements spec 1.0.0 and 1.1.0 (ADD, CHECK, DEL, VERSION, STATUS, GC) and
// accepts 0.4.0 lists/results. Plugins run inside a node network namespace via `ip netns exec`.
import { constants } from 'node:fs';
import { access, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, type RunResult } from '../util/exec.ts';
import { type Conflist, type PluginConf, effectiveVersion, NAME_RE, setIpamDataDir, validateConflist } from './conflist.ts';
import { CniError, CniRuntimeError, type CniCommand } from './errors.ts';
import {
  compareVersions,
  type CniResult,
  droppedFromPrevResult,
  errorFromFailedPlugin,
  parseJsonOutput,
  parseResult,
  SUPPORTED_VERSIONS,
  validateVersionResult,
  type VersionResult,
} from './result.ts';

export * from './conflist.ts';
export * from './errors.ts';
export * from './result.ts';
export { cidrContains, cidrNetwork, canonicalIp, ipFamily, normalizeRouteDst, parseCidr } from './ip.ts';

export const DEFAULT_PLUGIN_TIMEOUT_MS = 10_000;

/** One network attachment: (container, netns, interface) plus per-attachment arguments. */
export interface Attachment {
  containerId: string;
  /** path of the pod's network namespace, e.g. /var/run/netns/<podns> */
  netns: string;
  ifName: string;
  /** CNI_ARGS as key/value pairs, e.g. { K8S_POD_NAME: 'web-0' } */
  cniArgs?: Record<string, string>;
  /** runtime values for capabilities (portMappings, bandwidth, ...): only those the plugin declares are passed */
  capabilityArgs?: Record<string, unknown>;
}

export interface GcAttachment {
  containerID: string;
  ifname: string;
}

/** What the executor is asked to run. */
export interface PluginInvocation {
  /** absolute path of the plugin executable */
  path: string;
  /** the complete CNI environment for this call */
  env: Record<string, string>;
  stdin: string;
  timeoutMs: number;
  /** node network namespace the plugin runs in */
  nodeNs: string;
}

export type PluginExecutor = (inv: PluginInvocation) => Promise<RunResult>;

/**
 * Default executor: `ip netns exec NODE timeout -k 1s Ns PLUGIN`. `timeout` runs the plugin in its
 * own process group and kills the whole group, so a hung shell plugin's children (which keep
 * stdout open) die with it and the call returns.
 */
export const defaultExecutor: PluginExecutor = async (inv) => {
  const secs = Math.max(0.1, inv.timeoutMs / 1000).toFixed(3);
  const r = await run(['ip', 'netns', 'exec', inv.nodeNs, 'timeout', '-k', '1s', `${secs}s`, inv.path], {
    input: inv.stdin,
    env: inv.env,
    timeoutMs: inv.timeoutMs + 5_000, // backstop only
    reject: false,
  });
  // coreutils timeout exits 124 (or 137 when it had to SIGKILL) when the limit was hit
  if ((r.exitCode === 124 || r.exitCode === 137) && r.durationMs >= inv.timeoutMs * 0.9) r.timedOut = true;
  return r;
};

export interface CniRuntimeOptions {
  /** directories searched, in order, for plugin executables; also CNI_PATH */
  binDirs: string[];
  /** per-run directory for cached ADD results */
  cacheDir: string;
  /** network namespace the plugins execute in (never the root namespace) */
  nodeNs: string;
  /** per plugin invocation; default 10 s */
  timeoutMs?: number;
  /** reject chained results that drop prevResult's interfaces/IPs (default true) */
  strictChaining?: boolean;
  /** replace how plugins are executed (unit tests) */
  executor?: PluginExecutor;
  /**
   * dataDir forced into every host-local IPAM section. Without it, a host-local section must set
   * its own `ipam.dataDir`: the runtime refuses to let host-local fall back to /var/lib/cni.
   */
  ipamDataDir?: string;
}

/** One plugin call as recorded in `CniRuntime.log` (for artifacts / debugging). */
export interface InvocationRecord {
  command: CniCommand;
  plugin: string;
  pluginIndex?: number;
  env: Record<string, string>;
  stdin: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

export interface CachedAttachment {
  kind: 'vxlab-cni-cache-v1';
  networkName: string;
  containerId: string;
  ifName: string;
  netns: string;
  cniArgs?: Record<string, string>;
  capabilityArgs?: Record<string, unknown>;
  result: CniResult;
}

// ---------------------------------------------------------------------------------------------
// pure helpers (exported for unit tests)

export function validateAttachment(a: Attachment): void {
  const bad = (field: string, problem: string): never => {
    throw new CniRuntimeError('invalid-args', `invalid attachment: ${field}: ${problem}`);
  };
  if (typeof a.containerId !== 'string' || !NAME_RE.test(a.containerId))
    bad('containerId', `${JSON.stringify(a.containerId)} must start with a letter or digit, then letters, digits, "_", "." or "-"`);
  if (typeof a.ifName !== 'string' || a.ifName === '') bad('ifName', 'must not be empty');
  if (a.ifName === '.' || a.ifName === '..') bad('ifName', `"${a.ifName}" is not allowed`);
  if (a.ifName.length > 15) bad('ifName', `"${a.ifName}" is ${a.ifName.length} characters (max 15)`);
  if (/[/:\s]/.test(a.ifName)) bad('ifName', `"${a.ifName}" must not contain "/", ":" or whitespace`);
  if (typeof a.netns !== 'string') bad('netns', 'must be a path');
  for (const [k, v] of Object.entries(a.cniArgs ?? {})) {
    if (!/^[A-Za-z0-9_-]+$/.test(k)) bad(`cniArgs.${k}`, 'key must be alphanumeric (plus "_" and "-")');
    if (/[;=]/.test(v)) bad(`cniArgs.${k}`, `value ${JSON.stringify(v)} must not contain ";" or "="`);
  }
}

export function formatCniArgs(args: Record<string, string> | undefined): string {
  return Object.entries(args ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(';');
}

const ALL_CNI_VARS = ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH'] as const;

/**
 * The spec environment for a command. Variables a command does not use are set to '' so that
 * nothing leaks in from the caller's environment.
 */
export function buildEnv(command: CniCommand, binDirs: string[], att?: Attachment): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ALL_CNI_VARS) env[k] = '';
  env.CNI_COMMAND = command;
  if (command === 'VERSION') return env;
  env.CNI_PATH = binDirs.join(':');
  if (command === 'STATUS' || command === 'GC') return env;
  if (!att) throw new CniRuntimeError('invalid-args', `${command} needs an attachment (containerId, netns, ifName)`);
  env.CNI_CONTAINERID = att.containerId;
  env.CNI_NETNS = att.netns;
  env.CNI_IFNAME = att.ifName;
  env.CNI_ARGS = formatCniArgs(att.cniArgs);
  return env;
}

/** runtimeConfig for a plugin: the capabilities it declares `true` that the runtime has values for. */
export function runtimeConfigFor(plugin: PluginConf, capabilityArgs: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!plugin.capabilities || !capabilityArgs) return undefined;
  const rc: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(plugin.capabilities)) {
    if (on === true && cap in capabilityArgs && capabilityArgs[cap] !== undefined) rc[cap] = capabilityArgs[cap];
  }
  return Object.keys(rc).length ? rc : undefined;
}

/**
 * Execution configuration for one plugin (spec "Deriving execution configuration"): the plugin's
 * own fields, `cniVersion` and `name` from the list, `runtimeConfig` for declared capabilities,
 * `prevResult` when given; the `capabilities` key is removed.
 */
export function deriveExecConfig(
  list: Conflist,
  plugin: PluginConf,
  opts: { capabilityArgs?: Record<string, unknown>; prevResult?: CniResult; extra?: Record<string, unknown> } = {},
): Record<string, unknown> {
  const { capabilities: _caps, runtimeConfig: _rc, prevResult: _pr, ...rest } = plugin as Record<string, unknown>;
  const conf: Record<string, unknown> = { ...rest, cniVersion: effectiveVersion(list), name: list.name };
  const rc = runtimeConfigFor(plugin, opts.capabilityArgs);
  if (rc) conf.runtimeConfig = rc;
  if (opts.prevResult) conf.prevResult = opts.prevResult;
  if (opts.extra) Object.assign(conf, opts.extra);
  return conf;
}

/** Find a plugin executable. Throws `plugin-not-found` naming the type and every dir searched. */
export async function findPlugin(type: string, binDirs: string[], context = ''): Promise<string> {
  if (!type || type.includes('/')) throw new CniRuntimeError('plugin-not-found', `invalid plugin type ${JSON.stringify(type)}${context}`);
  const tried: string[] = [];
  for (const dir of binDirs) {
    const p = join(dir, type);
    try {
      const st = await stat(p);
      if (!st.isFile()) {
        tried.push(`${p} (not a file)`);
        continue;
      }
      await access(p, constants.X_OK);
      return p;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      tried.push(code === 'EACCES' ? `${p} (not executable)` : `${p} (${code === 'ENOENT' ? 'missing' : code})`);
    }
  }
  throw new CniRuntimeError(
    'plugin-not-found',
    `CNI plugin "${type}"${context} not found in binDirs [${binDirs.join(', ')}]` + (tried.length ? `; tried: ${tried.join(', ')}` : ' (binDirs is empty)'),
    { plugin: type },
  );
}

function cacheFileName(network: string, containerId: string, ifName: string): string {
  return `${encodeURIComponent(network)}-${encodeURIComponent(containerId)}-${encodeURIComponent(ifName)}.json`;
}

// ---------------------------------------------------------------------------------------------

export class CniRuntime {
  readonly binDirs: string[];
  readonly cacheDir: string;
  readonly nodeNs: string;
  readonly timeoutMs: number;
  readonly strictChaining: boolean;
  readonly ipamDataDir?: string;
  private readonly exec: PluginExecutor;
  /** every plugin invocation, in order */
  readonly log: InvocationRecord[] = [];

  constructor(opts: CniRuntimeOptions) {
    if (!opts.nodeNs) throw new CniRuntimeError('invalid-args', 'CniRuntime needs nodeNs: plugins never run in the root network namespace');
    if (!opts.binDirs?.length) throw new CniRuntimeError('invalid-args', 'CniRuntime needs at least one binDir');
    if (!opts.cacheDir) throw new CniRuntimeError('invalid-args', 'CniRuntime needs a cacheDir');
    this.binDirs = [...opts.binDirs];
    this.cacheDir = opts.cacheDir;
    this.nodeNs = opts.nodeNs;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS;
    this.strictChaining = opts.strictChaining ?? true;
    this.exec = opts.executor ?? defaultExecutor;
    this.ipamDataDir = opts.ipamDataDir;
  }

  /** Low-level: run one plugin for one command and return the raw process result (after timeout handling). */
  async invoke(
    type: string,
    command: CniCommand,
    config: Record<string, unknown>,
    env: Record<string, string>,
    pluginIndex?: number,
  ): Promise<RunResult> {
    const path = await findPlugin(type, this.binDirs, pluginIndex === undefined ? '' : ` (plugins[${pluginIndex}].type)`);
    const stdin = JSON.stringify(config);
    const r = await this.exec({ path, env, stdin, timeoutMs: this.timeoutMs, nodeNs: this.nodeNs });
    this.log.push({ command, plugin: type, pluginIndex, env, stdin, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, durationMs: r.durationMs, timedOut: r.timedOut });
    if (r.timedOut) {
      throw new CniRuntimeError(
        'timeout',
        `plugin "${type}"${pluginIndex === undefined ? '' : ` (plugins[${pluginIndex}])`} ${command} did not finish within ${this.timeoutMs} ms and was killed (hung plugin)`,
        { plugin: type, command, pluginIndex, durationMs: r.durationMs, stdout: r.stdout, stderr: r.stderr },
      );
    }
    return r;
  }

  /** Run a command and turn a non-zero exit into CniError / CniRuntimeError. */
  private async call(list: Conflist, plugin: PluginConf, idx: number, command: CniCommand, config: Record<string, unknown>, env: Record<string, string>): Promise<RunResult> {
    if (plugin.ipam?.type) await findPlugin(plugin.ipam.type, this.binDirs, ` (IPAM plugin, plugins[${idx}].ipam.type, network "${list.name}")`);
    const r = await this.invoke(plugin.type, command, config, env, idx);
    if (r.exitCode !== 0) throw errorFromFailedPlugin(r.stdout, r.stderr, r.exitCode, { plugin: plugin.type, command, pluginIndex: idx });
    return r;
  }

  /** Validate the list and apply the host-local dataDir policy (see `ipamDataDir`). */
  private check_(listIn: Conflist): Conflist {
    const list = validateConflist(listIn, `conflist "${(listIn as Partial<Conflist>)?.name ?? '?'}"`);
    if (this.ipamDataDir) return setIpamDataDir(list, this.ipamDataDir);
    list.plugins.forEach((p, i) => {
      if (p.ipam?.type === 'host-local' && (typeof p.ipam.dataDir !== 'string' || p.ipam.dataDir === ''))
        throw new CniRuntimeError(
          'invalid-args',
          `network "${list.name}" plugins[${i}].ipam (host-local) has no dataDir, so host-local would write to /var/lib/cni/networks; set ipam.dataDir or pass ipamDataDir to the runtime`,
        );
    });
    return list;
  }

  cachePath(network: string, containerId: string, ifName: string): string {
    return join(this.cacheDir, 'results', cacheFileName(network, containerId, ifName));
  }

  async getCached(network: string, containerId: string, ifName: string): Promise<CachedAttachment | undefined> {
    const p = this.cachePath(network, containerId, ifName);
    let text: string;
    try {
      text = await readFile(p, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      return JSON.parse(text) as CachedAttachment;
    } catch (e) {
      throw new CniRuntimeError('no-cached-result', `cached result ${p} is corrupt: ${(e as Error).message}`);
    }
  }

  /** The cached final ADD result for an attachment, if any. */
  async getCachedResult(network: string, containerId: string, ifName: string): Promise<CniResult | undefined> {
    return (await this.getCached(network, containerId, ifName))?.result;
  }

  /** All cached attachments of a network. */
  async listCached(network: string): Promise<CachedAttachment[]> {
    const dir = join(this.cacheDir, 'results');
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return [];
    }
    const prefix = `${encodeURIComponent(network)}-`;
    const out: CachedAttachment[] = [];
    for (const n of names.filter((x) => x.startsWith(prefix) && x.endsWith('.json'))) {
      try {
        const c = JSON.parse(await readFile(join(dir, n), 'utf8')) as CachedAttachment;
        if (c.kind === 'vxlab-cni-cache-v1' && c.networkName === network) out.push(c);
      } catch {
        /* ignore unreadable entries */
      }
    }
    return out;
  }

  private async writeCache(c: CachedAttachment): Promise<void> {
    const p = this.cachePath(c.networkName, c.containerId, c.ifName);
    await mkdir(join(this.cacheDir, 'results'), { recursive: true });
    const tmp = `${p}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    await writeFile(tmp, JSON.stringify(c, null, 2));
    await rename(tmp, p);
  }

  /** ADD: run the chain in order, passing each result as the next plugin's prevResult; cache the final result. */
  async add(listIn: Conflist, att: Attachment): Promise<CniResult> {
    const list = this.check_(listIn);
    validateAttachment(att);
    if (await this.getCached(list.name, att.containerId, att.ifName))
      throw new CniRuntimeError(
        'already-added',
        `ADD for network "${list.name}", container "${att.containerId}", ifname "${att.ifName}" was already done (cached at ${this.cachePath(list.name, att.containerId, att.ifName)}); DEL it first`,
      );
    const version = effectiveVersion(list);
    const env = buildEnv('ADD', this.binDirs, att);
    let prev: CniResult | undefined;
    for (const [i, plugin] of list.plugins.entries()) {
      const conf = deriveExecConfig(list, plugin, { capabilityArgs: att.capabilityArgs, prevResult: prev });
      const r = await this.call(list, plugin, i, 'ADD', conf, env);
      const ref = { plugin: plugin.type, command: 'ADD' as const, pluginIndex: i };
      const result = parseResult(r.stdout, version, ref);
      if (prev && this.strictChaining) {
        const dropped = droppedFromPrevResult(prev, result);
        if (dropped.length)
          throw new CniRuntimeError(
            'chaining',
            `plugin "${plugin.type}" (plugins[${i}]) ADD returned a result that drops prevResult content (a chained plugin must pass prevResult through): ${dropped.join('; ')}`,
            { ...ref, stdout: r.stdout },
          );
      }
      prev = result;
    }
    const final = prev!;
    await this.writeCache({
      kind: 'vxlab-cni-cache-v1',
      networkName: list.name,
      containerId: att.containerId,
      ifName: att.ifName,
      netns: att.netns,
      cniArgs: att.cniArgs,
      capabilityArgs: att.capabilityArgs,
      result: final,
    });
    return final;
  }

  /** CHECK: every plugin in order with the cached ADD result as prevResult. No-op when disableCheck. */
  async check(listIn: Conflist, att: Attachment): Promise<{ skipped: boolean }> {
    const list = this.check_(listIn);
    validateAttachment(att);
    if (list.disableCheck) return { skipped: true };
    const cached = await this.getCached(list.name, att.containerId, att.ifName);
    if (!cached)
      throw new CniRuntimeError(
        'no-cached-result',
        `CHECK for network "${list.name}", container "${att.containerId}", ifname "${att.ifName}": no cached ADD result (${this.cachePath(list.name, att.containerId, att.ifName)}); CHECK must follow a successful ADD`,
      );
    const env = buildEnv('CHECK', this.binDirs, att);
    for (const [i, plugin] of list.plugins.entries()) {
      const conf = deriveExecConfig(list, plugin, { capabilityArgs: att.capabilityArgs ?? cached.capabilityArgs, prevResult: cached.result });
      await this.call(list, plugin, i, 'CHECK', conf, env);
    }
    return { skipped: false };
  }

  /** DEL: every plugin in reverse order, with the cached result (if any) as prevResult; removes the cache. */
  async del(listIn: Conflist, att: Attachment): Promise<void> {
    const list = this.check_(listIn);
    validateAttachment(att);
    const cached = await this.getCached(list.name, att.containerId, att.ifName);
    const env = buildEnv('DEL', this.binDirs, att);
    for (let i = list.plugins.length - 1; i >= 0; i--) {
      const plugin = list.plugins[i]!;
      const conf = deriveExecConfig(list, plugin, { capabilityArgs: att.capabilityArgs ?? cached?.capabilityArgs, prevResult: cached?.result });
      await this.call(list, plugin, i, 'DEL', conf, env);
    }
    await rm(this.cachePath(list.name, att.containerId, att.ifName), { force: true });
  }

  /** VERSION of one plugin type. */
  async version(type: string, cniVersion: string = SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.length - 1]!): Promise<VersionResult> {
    const env = buildEnv('VERSION', this.binDirs);
    const r = await this.invoke(type, 'VERSION', { cniVersion }, env);
    const ref = { plugin: type, command: 'VERSION' as const };
    if (r.exitCode !== 0) throw errorFromFailedPlugin(r.stdout, r.stderr, r.exitCode, ref);
    return validateVersionResult(parseJsonOutput(r.stdout, ref, 'a version result'), ref);
  }

  private requires110(list: Conflist, command: CniCommand): void {
    const v = effectiveVersion(list);
    if (compareVersions(v, '1.1.0') < 0)
      throw new CniRuntimeError('unsupported', `${command} needs cniVersion 1.1.0 or later; network "${list.name}" uses ${v}`, { command });
  }

  /** STATUS (1.1.0): every plugin in order; the first error (typically code 50/51) is thrown as CniError. */
  async status(listIn: Conflist): Promise<void> {
    const list = this.check_(listIn);
    this.requires110(list, 'STATUS');
    const env = buildEnv('STATUS', this.binDirs);
    for (const [i, plugin] of list.plugins.entries()) {
      await this.call(list, plugin, i, 'STATUS', deriveExecConfig(list, plugin), env);
    }
  }

  /**
   * GC (1.1.0), as libcni does it: first DEL every cached attachment of this network that is not
   * in `valid`, then send GC with `cni.dev/valid-attachments` to every plugin. Skipped when disableGC.
   */
  async gc(listIn: Conflist, valid: GcAttachment[]): Promise<{ skipped: boolean; staleDeleted: GcAttachment[] }> {
    const list = this.check_(listIn);
    this.requires110(list, 'GC');
    if (list.disableGC) return { skipped: true, staleDeleted: [] };
    const keep = new Set(valid.map((v) => `${v.containerID}\u0000${v.ifname}`));
    const errors: string[] = [];
    const staleDeleted: GcAttachment[] = [];
    for (const c of await this.listCached(list.name)) {
      if (keep.has(`${c.containerId}\u0000${c.ifName}`)) continue;
      try {
        await this.del(list, { containerId: c.containerId, ifName: c.ifName, netns: c.netns, cniArgs: c.cniArgs, capabilityArgs: c.capabilityArgs });
        staleDeleted.push({ containerID: c.containerId, ifname: c.ifName });
      } catch (e) {
        errors.push(`DEL of stale attachment ${c.containerId}/${c.ifName}: ${(e as Error).message}`);
      }
    }
    const env = buildEnv('GC', this.binDirs);
    const attachments = valid.map((v) => ({ containerID: v.containerID, ifname: v.ifname }));
    for (const [i, plugin] of list.plugins.entries()) {
      // the spec's example used both spellings; libcni sends both
      const conf = deriveExecConfig(list, plugin, { extra: { 'cni.dev/valid-attachments': attachments, 'cni.dev/attachments': attachments } });
      try {
        await this.call(list, plugin, i, 'GC', conf, env);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (errors.length) throw new CniRuntimeError('gc-failed', `GC of network "${list.name}" had ${errors.length} error(s): ${errors.join(' | ')}`, { command: 'GC' });
    return { skipped: false, staleDeleted };
  }
}

export function isCniError(e: unknown): e is CniError {
  return e instanceof CniError;
}
