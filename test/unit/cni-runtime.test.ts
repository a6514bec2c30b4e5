// CNI runtime behaviour with a fake executor: no root, no namespaces, no real plugins run.
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildEnv,
  CniError,
  CniRuntime,
  CniRuntimeError,
  type Conflist,
  deriveExecConfig,
  findPlugin,
  formatCniArgs,
  type PluginInvocation,
  runtimeConfigFor,
  validateAttachment,
  type Attachment,
} from '../../harness/cni/runtime.ts';
import type { RunResult } from '../../harness/util/exec.ts';

let bin: string;
let bin2: string;
let work: string;
beforeAll(async () => {
  bin = await mkdtemp(join(tmpdir(), 'vxt-cni-bin-'));
  bin2 = await mkdtemp(join(tmpdir(), 'vxt-cni-bin2-'));
  work = await mkdtemp(join(tmpdir(), 'vxt-cni-work-'));
  for (const n of ['main', 'chained', 'host-local', 'tail']) {
    await writeFile(join(bin, n), '#!/bin/sh\nexit 0\n');
    await chmod(join(bin, n), 0o755);
  }
  await writeFile(join(bin2, 'noexec'), 'x');
  await chmod(join(bin2, 'noexec'), 0o644);
});
afterAll(async () => {
  for (const d of [bin, bin2, work]) await rm(d, { recursive: true, force: true });
});

type Handler = (cmd: string, conf: any, env: Record<string, string>) => Partial<RunResult>;

interface Call {
  plugin: string;
  cmd: string;
  conf: any;
  env: Record<string, string>;
  inv: PluginInvocation;
}

function fake(handlers: Record<string, Handler>) {
  const calls: Call[] = [];
  const executor = async (inv: PluginInvocation): Promise<RunResult> => {
    const plugin = inv.path.split('/').pop()!;
    const conf = JSON.parse(inv.stdin);
    calls.push({ plugin, cmd: inv.env.CNI_COMMAND!, conf, env: inv.env, inv });
    const h = handlers[plugin];
    const r = h ? h(inv.env.CNI_COMMAND!, conf, inv.env) : {};
    return { exitCode: 0, stdout: '', stderr: '', durationMs: 1, timedOut: false, ...r };
  };
  return { calls, executor };
}

const mainResult = (conf: any, env: Record<string, string>) => ({
  cniVersion: conf.cniVersion,
  interfaces: [
    { name: 'br0', mac: '02:00:00:00:00:01' },
    { name: env.CNI_IFNAME, mac: '02:00:00:00:00:02', sandbox: env.CNI_NETNS },
  ],
  ips: [{ address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 1 }],
  routes: [{ dst: '0.0.0.0/0' }],
});

/** a well-behaved main plugin and a pass-through chained plugin */
const goodHandlers: Record<string, Handler> = {
  main: (cmd, conf, env) => (cmd === 'ADD' ? { stdout: JSON.stringify(mainResult(conf, env)) } : {}),
  chained: (cmd, conf) => (cmd === 'ADD' ? { stdout: JSON.stringify({ ...conf.prevResult, dns: { nameservers: ['10.1.0.10'] } }) } : {}),
};

const list: Conflist = {
  cniVersion: '1.0.0',
  name: 'net1',
  plugins: [
    { type: 'main', bridge: 'br0', ipam: { type: 'host-local', subnet: '10.1.0.0/24', dataDir: '/tmp/vxt-cni-unit-ipam' } },
    { type: 'chained', capabilities: { portMappings: true, bandwidth: true } },
  ],
};

const att: Attachment = {
  containerId: 'ctr1',
  netns: '/var/run/netns/vxt-cni-pod-x',
  ifName: 'eth0',
  cniArgs: { K8S_POD_NAME: 'web-0', K8S_POD_NAMESPACE: 'default' },
  capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], ipRanges: [] },
};

let cacheSeq = 0;
function mkRuntime(handlers: Record<string, Handler>, extra: Partial<ConstructorParameters<typeof CniRuntime>[0]> = {}) {
  const f = fake(handlers);
  const rt = new CniRuntime({ binDirs: [bin], cacheDir: join(work, `cache${cacheSeq++}`), nodeNs: 'vxt-cni-node-x', executor: f.executor, ...extra });
  return { rt, calls: f.calls };
}

describe('environment', () => {
  it('ADD/CHECK/DEL get all six variables', () => {
    const env = buildEnv('ADD', ['/a', '/b'], att);
    expect(env).toEqual({
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'ctr1',
      CNI_NETNS: '/var/run/netns/vxt-cni-pod-x',
      CNI_IFNAME: 'eth0',
      CNI_ARGS: 'K8S_POD_NAME=web-0;K8S_POD_NAMESPACE=default',
      CNI_PATH: '/a:/b',
    });
  });
  it('VERSION gets only CNI_COMMAND (others blanked so nothing leaks from the caller)', () => {
    expect(buildEnv('VERSION', ['/a'])).toEqual({ CNI_COMMAND: 'VERSION', CNI_CONTAINERID: '', CNI_NETNS: '', CNI_IFNAME: '', CNI_ARGS: '', CNI_PATH: '' });
  });
  it('STATUS and GC get CNI_COMMAND and CNI_PATH', () => {
    expect(buildEnv('STATUS', ['/a'])).toMatchObject({ CNI_COMMAND: 'STATUS', CNI_PATH: '/a', CNI_CONTAINERID: '' });
    expect(buildEnv('GC', ['/a', '/b'])).toMatchObject({ CNI_COMMAND: 'GC', CNI_PATH: '/a:/b', CNI_NETNS: '' });
  });
  it('ADD without an attachment is an error', () => {
    expect(() => buildEnv('ADD', ['/a'])).toThrow(/ADD needs an attachment/);
  });
  it('CNI_ARGS formatting', () => {
    expect(formatCniArgs(undefined)).toBe('');
    expect(formatCniArgs({ A: '1', IgnoreUnknown: 'true' })).toBe('A=1;IgnoreUnknown=true');
  });
  it('attachment validation', () => {
    expect(() => validateAttachment({ ...att, containerId: '-x' })).toThrow(/containerId/);
    expect(() => validateAttachment({ ...att, ifName: '' })).toThrow(/ifName: must not be empty/);
    expect(() => validateAttachment({ ...att, ifName: 'a-very-long-ifname0' })).toThrow(/max 15/);
    expect(() => validateAttachment({ ...att, ifName: 'eth:0' })).toThrow(/must not contain/);
    expect(() => validateAttachment({ ...att, ifName: '..' })).toThrow(/not allowed/);
    expect(() => validateAttachment({ ...att, cniArgs: { A: 'x;y' } })).toThrow(/cniArgs.A/);
    expect(() => validateAttachment(att)).not.toThrow();
  });
});

describe('execution config', () => {
  it('injects name and cniVersion, removes capabilities, adds runtimeConfig only for declared capabilities', () => {
    const c = deriveExecConfig(list, list.plugins[1]!, { capabilityArgs: att.capabilityArgs });
    expect(c).toEqual({
      type: 'chained',
      cniVersion: '1.0.0',
      name: 'net1',
      runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
    });
  });
  it('no runtimeConfig for plugins without capabilities, or capabilities set to false', () => {
    expect(deriveExecConfig(list, list.plugins[0]!, { capabilityArgs: att.capabilityArgs }).runtimeConfig).toBeUndefined();
    expect(runtimeConfigFor({ type: 'x', capabilities: { portMappings: false } }, att.capabilityArgs)).toBeUndefined();
    expect(runtimeConfigFor({ type: 'x', capabilities: { portMappings: true } }, undefined)).toBeUndefined();
  });
  it('conflist name/cniVersion win over values inside the plugin', () => {
    const c = deriveExecConfig({ ...list, cniVersion: '1.1.0' }, { type: 'x', name: 'other', cniVersion: '0.3.1' });
    expect(c.name).toBe('net1');
    expect(c.cniVersion).toBe('1.1.0');
  });
});

describe('plugin lookup', () => {
  it('finds the first match in binDirs order', async () => {
    expect(await findPlugin('main', [bin2, bin])).toBe(join(bin, 'main'));
  });
  it('not found names the type and every dir searched', async () => {
    await expect(findPlugin('flannel', [bin2, bin])).rejects.toThrow(
      `CNI plugin "flannel" not found in binDirs [${bin2}, ${bin}]; tried: ${join(bin2, 'flannel')} (missing), ${join(bin, 'flannel')} (missing)`,
    );
  });
  it('not executable is said so', async () => {
    await expect(findPlugin('noexec', [bin2])).rejects.toThrow(/noexec \(not executable\)/);
  });
  it('ADD with an unknown type names plugins[i].type', async () => {
    const { rt } = mkRuntime(goodHandlers);
    const e = await rt.add({ ...list, plugins: [{ type: 'nope' }] }, att).catch((e) => e);
    expect(e).toBeInstanceOf(CniRuntimeError);
    expect(e.kind).toBe('plugin-not-found');
    expect(e.message).toContain('CNI plugin "nope" (plugins[0].type) not found in binDirs');
  });
  it('an unknown IPAM type is named too', async () => {
    const { rt } = mkRuntime(goodHandlers);
    const e = await rt.add({ ...list, plugins: [{ type: 'main', ipam: { type: 'whereabouts' } }] }, att).catch((e) => e);
    expect(e.message).toContain('CNI plugin "whereabouts" (IPAM plugin, plugins[0].ipam.type, network "net1") not found');
  });
});

describe('ADD / CHECK / DEL', () => {
  it('ADD chains prevResult, passes env + runtimeConfig, caches the final result', async () => {
    const { rt, calls } = mkRuntime(goodHandlers);
    const res = await rt.add(list, att);
    expect(calls.map((c) => `${c.plugin}:${c.cmd}`)).toEqual(['main:ADD', 'chained:ADD']);
    expect(calls[0]!.conf.prevResult).toBeUndefined();
    expect(calls[1]!.conf.prevResult).toEqual(mainResult({ cniVersion: '1.0.0' }, calls[0]!.env));
    expect(calls[1]!.conf.runtimeConfig).toEqual({ portMappings: att.capabilityArgs!.portMappings });
    expect(calls[0]!.conf.runtimeConfig).toBeUndefined();
    expect(calls[0]!.env.CNI_PATH).toBe(bin);
    expect(calls[0]!.inv.nodeNs).toBe('vxt-cni-node-x');
    expect(calls[0]!.inv.timeoutMs).toBe(10_000);
    expect(res.dns).toEqual({ nameservers: ['10.1.0.10'] });
    expect(await rt.getCachedResult('net1', 'ctr1', 'eth0')).toEqual(res);
  });

  it('CHECK runs in order with the cached result as prevResult; DEL runs in reverse and removes the cache', async () => {
    const { rt, calls } = mkRuntime(goodHandlers);
    const res = await rt.add(list, att);
    calls.length = 0;
    await rt.check(list, att);
    expect(calls.map((c) => `${c.plugin}:${c.cmd}`)).toEqual(['main:CHECK', 'chained:CHECK']);
    for (const c of calls) expect(c.conf.prevResult).toEqual(res);
    calls.length = 0;
    await rt.del(list, att);
    expect(calls.map((c) => `${c.plugin}:${c.cmd}`)).toEqual(['chained:DEL', 'main:DEL']);
    for (const c of calls) expect(c.conf.prevResult).toEqual(res);
    expect(await rt.getCachedResult('net1', 'ctr1', 'eth0')).toBeUndefined();
    // a second DEL has no prevResult and still runs every plugin
    calls.length = 0;
    await rt.del(list, att);
    expect(calls.map((c) => c.conf.prevResult)).toEqual([undefined, undefined]);
  });

  it('ADD twice without DEL is refused', async () => {
    const { rt } = mkRuntime(goodHandlers);
    await rt.add(list, att);
    await expect(rt.add(list, att)).rejects.toThrow(/already done .* DEL it first/);
    // another ifname is a different attachment
    await expect(rt.add(list, { ...att, ifName: 'net1' })).resolves.toBeTruthy();
  });

  it('CHECK without a cached ADD result is an error; disableCheck skips it', async () => {
    const { rt, calls } = mkRuntime(goodHandlers);
    await expect(rt.check(list, att)).rejects.toThrow(/no cached ADD result/);
    expect(await rt.check({ ...list, disableCheck: true }, att)).toEqual({ skipped: true });
    expect(calls).toHaveLength(0);
  });

  it('a plugin error stops the chain and is surfaced verbatim', async () => {
    const { rt, calls } = mkRuntime({
      ...goodHandlers,
      main: (cmd) => (cmd === 'ADD' ? { exitCode: 1, stdout: JSON.stringify({ cniVersion: '1.0.0', code: 11, msg: 'busy', details: 'lock held by 1234' }), stderr: 'log' } : {}),
    });
    const e = await rt.add(list, att).catch((e) => e);
    expect(e).toBeInstanceOf(CniError);
    expect(e.code).toBe(11);
    expect(e.meaning).toBe('try again later');
    expect(e.msg).toBe('busy');
    expect(e.details).toBe('lock held by 1234');
    expect(e.plugin).toBe('main');
    expect(e.pluginIndex).toBe(0);
    expect(calls).toHaveLength(1);
    expect(await rt.getCachedResult('net1', 'ctr1', 'eth0')).toBeUndefined();
  });

  it('a result with the wrong cniVersion is rejected', async () => {
    const { rt } = mkRuntime({ ...goodHandlers, main: (cmd, conf, env) => ({ stdout: JSON.stringify({ ...mainResult(conf, env), cniVersion: '0.4.0' }) }) });
    await expect(rt.add(list, att)).rejects.toThrow(
      'plugin "main" (plugins[0]) ADD returned an invalid result: cniVersion: is "0.4.0" but the runtime requested "1.0.0" (result version must equal the config\'s cniVersion)',
    );
  });

  it('a chained plugin dropping prevResult content is caught (unless strictChaining is off)', async () => {
    const drop: Handler = (cmd, conf) => (cmd === 'ADD' ? { stdout: JSON.stringify({ cniVersion: conf.cniVersion, interfaces: [], ips: [] }) } : {});
    const { rt } = mkRuntime({ ...goodHandlers, chained: drop });
    const e = await rt.add(list, att).catch((e) => e);
    expect(e.kind).toBe('chaining');
    expect(e.message).toBe(
      'plugin "chained" (plugins[1]) ADD returned a result that drops prevResult content (a chained plugin must pass prevResult through): interfaces[0] "br0" missing; interfaces[1] "eth0" (sandbox /var/run/netns/vxt-cni-pod-x) missing; ips[0] 10.1.0.5/24 missing',
    );
    const lax = mkRuntime({ ...goodHandlers, chained: drop }, { strictChaining: false });
    await expect(lax.rt.add(list, att)).resolves.toEqual({ cniVersion: '1.0.0', interfaces: [], ips: [] });
  });

  it('a timed-out plugin is reported as hung and killed', async () => {
    const { rt } = mkRuntime({ ...goodHandlers, main: () => ({ exitCode: 124, timedOut: true, durationMs: 2000 }) }, { timeoutMs: 2000 });
    const e = await rt.add(list, att).catch((e) => e);
    expect(e.kind).toBe('timeout');
    expect(e.message).toBe('plugin "main" (plugins[0]) ADD did not finish within 2000 ms and was killed (hung plugin)');
  });

  it('a crash without an error object is reported with exit code and stderr', async () => {
    const { rt } = mkRuntime({ ...goodHandlers, main: () => ({ exitCode: 2, stderr: 'panic: nil map' }) });
    await expect(rt.add(list, att)).rejects.toThrow('plugin "main" (plugins[0]) ADD exited with status 2 without a CNI error object on stdout (stdout empty); stderr: "panic: nil map"');
  });

  it('0.4.0 lists and results are accepted', async () => {
    const v04: Handler = (cmd, conf, env) => {
      if (cmd !== 'ADD') return {};
      const r = mainResult(conf, env);
      return { stdout: JSON.stringify({ ...r, ips: r.ips.map((i) => ({ ...i, version: '4' })) }) };
    };
    const { rt, calls } = mkRuntime({ main: v04 });
    const res = await rt.add({ cniVersion: '0.4.0', name: 'old', plugins: [{ type: 'main' }] }, att);
    expect(res.ips![0]!.version).toBe('4');
    expect(calls[0]!.conf.cniVersion).toBe('0.4.0');
  });
});

describe('VERSION', () => {
  it('parses the version result', async () => {
    const { rt, calls } = mkRuntime({ main: () => ({ stdout: '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}' }) });
    expect(await rt.version('main')).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.4.0', '1.0.0'] });
    expect(calls[0]!.conf).toEqual({ cniVersion: '1.1.0' });
    expect(calls[0]!.env.CNI_COMMAND).toBe('VERSION');
  });
  it('garbage VERSION output is an invalid-output error', async () => {
    const { rt } = mkRuntime({ main: () => ({ stdout: 'v1' }) });
    await expect(rt.version('main')).rejects.toThrow(/plugin "main" VERSION printed malformed JSON/);
  });
});

describe('STATUS and GC (1.1.0)', () => {
  const l11: Conflist = { ...list, cniVersion: '1.1.0' };
  it('are refused for lists older than 1.1.0', async () => {
    const { rt } = mkRuntime(goodHandlers);
    await expect(rt.status(list)).rejects.toThrow('STATUS needs cniVersion 1.1.0 or later; network "net1" uses 1.0.0');
    await expect(rt.gc(list, [])).rejects.toThrow(/GC needs cniVersion 1.1.0/);
  });
  it('STATUS runs every plugin; 50 is surfaced', async () => {
    const { rt, calls } = mkRuntime(goodHandlers);
    await rt.status(l11);
    expect(calls.map((c) => `${c.plugin}:${c.cmd}`)).toEqual(['main:STATUS', 'chained:STATUS']);
    expect(calls[0]!.env.CNI_CONTAINERID).toBe('');
    const bad = mkRuntime({ ...goodHandlers, chained: () => ({ exitCode: 1, stdout: '{"cniVersion":"1.1.0","code":50,"msg":"no route to API server"}' }) });
    const e = await bad.rt.status(l11).catch((e) => e);
    expect(e).toBeInstanceOf(CniError);
    expect(e.code).toBe(50);
    expect(e.message).toMatch(/plugin "chained" \(plugins\[1\]\) STATUS failed with CNI error 50 \(the plugin is not available/);
  });
  it('GC deletes stale cached attachments, then sends valid-attachments to every plugin', async () => {
    const { rt, calls } = mkRuntime(goodHandlers);
    await rt.add(l11, att);
    await rt.add(l11, { ...att, containerId: 'ctr2' });
    calls.length = 0;
    const r = await rt.gc(l11, [{ containerID: 'ctr2', ifname: 'eth0' }]);
    expect(r.staleDeleted).toEqual([{ containerID: 'ctr1', ifname: 'eth0' }]);
    expect(calls.map((c) => `${c.plugin}:${c.cmd}:${c.env.CNI_CONTAINERID}`)).toEqual(['chained:DEL:ctr1', 'main:DEL:ctr1', 'main:GC:', 'chained:GC:']);
    expect(calls[2]!.conf['cni.dev/valid-attachments']).toEqual([{ containerID: 'ctr2', ifname: 'eth0' }]);
    expect(await rt.getCachedResult('net1', 'ctr1', 'eth0')).toBeUndefined();
    expect(await rt.getCachedResult('net1', 'ctr2', 'eth0')).toBeDefined();
  });
  it('disableGC skips GC', async () => {
    const { rt, calls } = mkRuntime(goodHandlers);
    expect(await rt.gc({ ...l11, disableGC: true }, [])).toEqual({ skipped: true, staleDeleted: [] });
    expect(calls).toHaveLength(0);
  });
});

describe('host-local dataDir policy', () => {
  const noDir: Conflist = { cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'main', ipam: { type: 'host-local', subnet: '10.1.0.0/24' } }] };
  it('refuses host-local without dataDir (it would write to /var/lib/cni)', async () => {
    const { rt, calls } = mkRuntime(goodHandlers);
    await expect(rt.add(noDir, att)).rejects.toThrow('network "n" plugins[0].ipam (host-local) has no dataDir, so host-local would write to /var/lib/cni/networks');
    expect(calls).toHaveLength(0);
  });
  it('ipamDataDir is forced into every host-local section', async () => {
    const { rt, calls } = mkRuntime(goodHandlers, { ipamDataDir: '/tmp/run1/ipam' });
    await rt.add(noDir, att);
    expect(calls[0]!.conf.ipam).toEqual({ type: 'host-local', subnet: '10.1.0.0/24', dataDir: '/tmp/run1/ipam' });
  });
});

describe('runtime construction', () => {
  it('refuses to run without a node namespace', () => {
    expect(() => new CniRuntime({ binDirs: [bin], cacheDir: work, nodeNs: '' })).toThrow(/never run in the root network namespace/);
  });
  it('the cache lives under cacheDir/results', async () => {
    const { rt } = mkRuntime(goodHandlers);
    await rt.add(list, att);
    expect(await readdir(join(rt.cacheDir, 'results'))).toEqual(['net1-ctr1-eth0.json']);
  });
});
