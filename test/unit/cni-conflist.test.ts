import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CniConfigError,
  type Conflist,
  effectiveVersion,
  injectSubnet,
  loadConflist,
  pluginTypes,
  setIpamDataDir,
  validateConflist,
} from '../../harness/cni/runtime.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vxt-cni-unit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

async function loadErr(name: string, text: string): Promise<CniConfigError> {
  const p = await file(name, text);
  try {
    await loadConflist(p);
  } catch (e) {
    expect(e).toBeInstanceOf(CniConfigError);
    expect((e as Error).message.startsWith(`${p}: `)).toBe(true);
    return e as CniConfigError;
  }
  throw new Error('expected loadConflist to fail');
}

const good = {
  cniVersion: '1.0.0',
  name: 'net1',
  plugins: [
    { type: 'bridge', bridge: 'br0', ipam: { type: 'host-local', ranges: [[{ subnet: '10.1.0.0/24', gateway: '10.1.0.1' }]] } },
    { type: 'portmap', capabilities: { portMappings: true } },
  ],
};

describe('loadConflist', () => {
  it('loads a valid list', async () => {
    const p = await file('ok.conflist', JSON.stringify(good));
    const c = await loadConflist(p);
    expect(c.name).toBe('net1');
    expect(c.plugins).toHaveLength(2);
  });

  it('missing file names the file', async () => {
    const p = join(dir, 'nope.conflist');
    await expect(loadConflist(p)).rejects.toThrow(`${p}: file does not exist`);
  });

  it('a directory is reported as such', async () => {
    const p = join(dir, 'adir');
    await mkdir(p);
    await expect(loadConflist(p)).rejects.toThrow(/is a directory/);
  });

  it('JSON syntax errors carry line and column', async () => {
    const e = await loadErr('bad.conflist', '{\n  "cniVersion": "1.0.0",\n  "name": "x",\n  "plugins": [ { "type": "bridge", } ]\n}');
    expect(e.message).toMatch(/invalid JSON at line 4 column \d+/);
  });

  it('unknown top-level fields are named', async () => {
    const e = await loadErr('unk.conflist', JSON.stringify({ ...good, plugin: [] }));
    expect(e.field).toBe('plugin');
    expect(e.message).toMatch(/unknown top-level field.*allowed: cniVersion/);
  });

  it('a single-plugin .conf gets a hint', async () => {
    const e = await loadErr('single.conf', JSON.stringify({ cniVersion: '1.0.0', name: 'x', type: 'bridge' }));
    expect(e.message).toMatch(/"type" belongs inside "plugins"/);
  });

  it('missing plugins', async () => {
    const e = await loadErr('np.conflist', JSON.stringify({ cniVersion: '1.0.0', name: 'x' }));
    expect(e.field).toBe('plugins');
    expect(e.message).toMatch(/plugins: missing \(required/);
  });

  it('empty plugins', async () => {
    const e = await loadErr('ep.conflist', JSON.stringify({ cniVersion: '1.0.0', name: 'x', plugins: [] }));
    expect(e.message).toMatch(/plugins: is empty/);
  });

  it('missing type names the plugin index', async () => {
    const e = await loadErr('nt.conflist', JSON.stringify({ cniVersion: '1.0.0', name: 'x', plugins: [{ type: 'bridge' }, { bridge: 'x' }] }));
    expect(e.field).toBe('plugins[1].type');
    expect(e.message).toContain('plugins[1].type: missing (required');
  });

  it('type must be a name, not a path', async () => {
    const e = await loadErr('tp.conflist', JSON.stringify({ cniVersion: '1.0.0', name: 'x', plugins: [{ type: '../bin/sh' }] }));
    expect(e.field).toBe('plugins[0].type');
  });

  it('missing / bad name and cniVersion', async () => {
    expect((await loadErr('n1.conflist', JSON.stringify({ cniVersion: '1.0.0', plugins: [{ type: 'a' }] }))).field).toBe('name');
    expect((await loadErr('n2.conflist', JSON.stringify({ cniVersion: '1.0.0', name: '-bad', plugins: [{ type: 'a' }] }))).field).toBe('name');
    expect((await loadErr('v1.conflist', JSON.stringify({ name: 'x', plugins: [{ type: 'a' }] }))).message).toMatch(/cniVersion: missing/);
    expect((await loadErr('v2.conflist', JSON.stringify({ cniVersion: '0.3.1', name: 'x', plugins: [{ type: 'a' }] }))).message).toMatch(
      /"0.3.1" is not supported by this runtime \(supported: 0.4.0, 1.0.0, 1.1.0\)/,
    );
  });

  it('field types are checked', async () => {
    expect((await loadErr('dc.conflist', JSON.stringify({ ...good, disableCheck: 'yes' }))).field).toBe('disableCheck');
    const caps = { ...good, plugins: [{ type: 'portmap', capabilities: { portMappings: 'true' } }] };
    expect((await loadErr('cap.conflist', JSON.stringify(caps))).field).toBe('plugins[0].capabilities.portMappings');
    const ipam = { ...good, plugins: [{ type: 'bridge', ipam: 'host-local' }] };
    expect((await loadErr('ipam.conflist', JSON.stringify(ipam))).field).toBe('plugins[0].ipam');
  });

  it('top level must be an object', async () => {
    expect((await loadErr('arr.conflist', '[]')).message).toMatch(/must be a JSON object, got an array/);
  });
});

describe('versions', () => {
  it('cniVersions picks the highest supported', () => {
    const c = validateConflist({ ...good, cniVersion: '1.0.0', cniVersions: ['0.4.0', '1.1.0', '9.9.9'] });
    expect(effectiveVersion(c)).toBe('1.1.0');
    expect(effectiveVersion(validateConflist({ ...good, cniVersion: '0.4.0' }))).toBe('0.4.0');
  });
  it('cniVersions with nothing supported is an error', () => {
    expect(() => validateConflist({ ...good, cniVersions: ['2.0.0'] }, 'x.conflist')).toThrow(/x.conflist: cniVersions: none of/);
  });
});

describe('injectSubnet', () => {
  it('replaces the family-matching range set and keeps in-range gateway', () => {
    const c = injectSubnet(good as Conflist, '10.1.0.0/24');
    expect(c.plugins[0]!.ipam!.ranges).toEqual([[{ subnet: '10.1.0.0/24', gateway: '10.1.0.1' }]]);
    const d = injectSubnet(good as Conflist, '10.9.3.0/24');
    expect(d.plugins[0]!.ipam!.ranges).toEqual([[{ subnet: '10.9.3.0/24' }]]);
    // the input is not modified
    expect(good.plugins[0]!.ipam!.ranges[0]![0]!.subnet).toBe('10.1.0.0/24');
  });

  it('dual stack: appends the other family, replaces the same family', () => {
    const c = injectSubnet(good as Conflist, ['10.9.3.0/24', 'fd00:9:3::/64']);
    expect(c.plugins[0]!.ipam!.ranges).toEqual([[{ subnet: '10.9.3.0/24' }], [{ subnet: 'fd00:9:3::/64' }]]);
  });

  it('legacy subnet key', () => {
    const l = { cniVersion: '1.0.0', name: 'p', plugins: [{ type: 'ptp', ipam: { type: 'host-local', subnet: '10.0.0.0/24', rangeStart: '10.0.0.10' } }] };
    const c = injectSubnet(l, '10.5.5.0/24');
    expect(c.plugins[0]!.ipam).toEqual({ type: 'host-local', subnet: '10.5.5.0/24' });
  });

  it('creates ranges when the ipam section has none', () => {
    const l = { cniVersion: '1.0.0', name: 'p', plugins: [{ type: 'ptp', ipam: { type: 'host-local' } }] };
    expect(injectSubnet(l, '10.5.5.0/24').plugins[0]!.ipam!.ranges).toEqual([[{ subnet: '10.5.5.0/24' }]]);
  });

  it('errors: bad subnet, no host-local plugin', () => {
    expect(() => injectSubnet(good as Conflist, '10.5.5.0')).toThrow(/missing "\/prefix"/);
    expect(() => injectSubnet({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'loopback' }] }, '10.0.0.0/24')).toThrow(/no plugin uses host-local IPAM/);
  });
});

describe('helpers', () => {
  it('setIpamDataDir rewrites only host-local', () => {
    const c = setIpamDataDir(good as Conflist, '/tmp/x/ipam');
    expect(c.plugins[0]!.ipam!.dataDir).toBe('/tmp/x/ipam');
    expect(c.plugins[1]!.ipam).toBeUndefined();
  });
  it('pluginTypes includes IPAM types once', () => {
    expect(pluginTypes(good as Conflist)).toEqual(['bridge', 'host-local', 'portmap']);
  });
});
