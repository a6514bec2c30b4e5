import { describe, expect, it } from 'vitest';
import {
  CniError,
  CniRuntimeError,
  describeCniErrorCode,
  droppedFromPrevResult,
  errorFromFailedPlugin,
  errorResultProblems,
  parseResult,
  resultProblems,
  toV1Result,
  validateVersionResult,
  type CniResult,
} from '../../harness/cni/runtime.ts';
import { cidrNetwork, normalizeRouteDst, parseCidr, canonicalIp } from '../../harness/cni/ip.ts';

const ref = { plugin: 'bridge', command: 'ADD' as const, pluginIndex: 0 };

const valid: CniResult = {
  cniVersion: '1.0.0',
  interfaces: [
    { name: 'cni0', mac: '82:14:a2:98:68:01' },
    { name: 'veth1', mac: '46:fe:1c:1e:e0:d1' },
    { name: 'eth0', mac: '36:45:ec:9a:34:5c', sandbox: '/var/run/netns/p' },
  ],
  ips: [{ interface: 2, address: '10.99.1.2/24', gateway: '10.99.1.1' }],
  routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0', gw: 'fd00::1' }],
  dns: { nameservers: ['10.0.0.10'], search: ['svc.local'] },
};

function with_(patch: (r: any) => void, base: unknown = valid): unknown {
  const r = JSON.parse(JSON.stringify(base));
  patch(r);
  return r;
}

/** problems as "field: problem" strings */
function probs(raw: unknown, v = '1.0.0'): string[] {
  return resultProblems(raw, v).map((p) => `${p.field}: ${p.problem}`);
}

describe('result validation: valid results', () => {
  it('accepts a full 1.0.0 result', () => {
    expect(probs(valid)).toEqual([]);
  });
  it('accepts a minimal result (only cniVersion)', () => {
    expect(probs({ cniVersion: '1.0.0' })).toEqual([]);
  });
  it('accepts 1.1.0 fields', () => {
    const r = with_((r) => {
      r.cniVersion = '1.1.0';
      r.interfaces[2].mtu = 1450;
      r.interfaces[2].socketPath = '/run/x.sock';
      r.routes[0] = { dst: '0.0.0.0/0', mtu: 1400, advmss: 1360, priority: 100, table: 254, scope: 0 };
    });
    expect(probs(r, '1.1.0')).toEqual([]);
  });
  it('accepts a 0.4.0 result with ips[].version', () => {
    const r = with_((r) => {
      r.cniVersion = '0.4.0';
      r.ips[0].version = '4';
    });
    expect(probs(r, '0.4.0')).toEqual([]);
    expect(toV1Result(r as CniResult).ips![0]).toEqual({ interface: 2, address: '10.99.1.2/24', gateway: '10.99.1.1' });
  });
});

describe('result validation: malformed results are reported precisely', () => {
  const cases: [string, unknown, string, string?][] = [
    ['not an object', [], '(result): must be a JSON object, got an array'],
    ['null', null, '(result): must be a JSON object, got null'],
    ['missing cniVersion', with_((r) => delete r.cniVersion), 'cniVersion: missing (required)'],
    ['cniVersion not a string', with_((r) => (r.cniVersion = 1)), 'cniVersion: must be a string, got number 1'],
    ['cniVersion mismatch', with_((r) => (r.cniVersion = '0.4.0')), 'cniVersion: is "0.4.0" but the runtime requested "1.0.0"'],
    ['interfaces not an array', with_((r) => (r.interfaces = {})), 'interfaces: must be an array, got an object'],
    ['interface without name', with_((r) => delete r.interfaces[1].name), 'interfaces[1].name: missing (required)'],
    ['interface name empty', with_((r) => (r.interfaces[0].name = '')), 'interfaces[0].name: must be a non-empty string'],
    ['bad mac', with_((r) => (r.interfaces[0].mac = 'zz:14:a2')), 'interfaces[0].mac: string "zz:14:a2" is not a MAC address'],
    ['sandbox not a string', with_((r) => (r.interfaces[2].sandbox = 5)), 'interfaces[2].sandbox: must be a string'],
    ['ips not an array', with_((r) => (r.ips = 'x')), 'ips: must be an array'],
    ['ip entry not an object', with_((r) => (r.ips = ['10.0.0.1/24'])), 'ips[0]: must be an object, got string "10.0.0.1/24"'],
    ['missing address', with_((r) => delete r.ips[0].address), 'ips[0].address: missing (required)'],
    ['address without prefix', with_((r) => (r.ips[0].address = '10.99.1.2')), 'ips[0].address: "10.99.1.2" is not in CIDR notation (missing "/prefix")'],
    ['address with bad IP', with_((r) => (r.ips[0].address = '10.99.1.300/24')), 'ips[0].address: "10.99.1.300/24" is not in CIDR notation ("10.99.1.300" is not an IP address)'],
    ['address prefix too large', with_((r) => (r.ips[0].address = '10.99.1.2/33')), 'ips[0].address: "10.99.1.2/33" is not in CIDR notation (prefix /33 is larger than /32 for IPv4)'],
    ['address prefix not a number', with_((r) => (r.ips[0].address = '10.99.1.2/x')), 'prefix "x" is not a number'],
    ['address two slashes', with_((r) => (r.ips[0].address = '10.0.0.1/24/1')), 'more than one "/"'],
    ['address a number', with_((r) => (r.ips[0].address = 42)), 'ips[0].address: must be a string in CIDR notation, got number 42'],
    ['gateway not an IP', with_((r) => (r.ips[0].gateway = 'router')), 'ips[0].gateway: string "router" is not an IP address'],
    ['gateway in CIDR form', with_((r) => (r.ips[0].gateway = '10.99.1.1/24')), 'ips[0].gateway: string "10.99.1.1/24" is not an IP address'],
    ['gateway family mismatch', with_((r) => (r.ips[0].gateway = 'fd00::1')), 'ips[0].gateway: "fd00::1" is IPv6 but address "10.99.1.2/24" is IPv4'],
    ['interface index out of range', with_((r) => (r.ips[0].interface = 3)), 'ips[0].interface: index 3 points at nothing (interfaces has 3 entries, valid 0..2)'],
    ['interface index with no interfaces', with_((r) => delete r.interfaces), 'ips[0].interface: index 2 points at nothing (the result has no interfaces)'],
    ['interface index negative', with_((r) => (r.ips[0].interface = -1)), 'ips[0].interface: must be a non-negative integer index into interfaces, got number -1'],
    ['interface index a string', with_((r) => (r.ips[0].interface = '2')), 'ips[0].interface: must be a non-negative integer index into interfaces, got string "2"'],
    ['route without dst', with_((r) => delete r.routes[0].dst), 'routes[0].dst: missing (required)'],
    ['route dst not CIDR', with_((r) => (r.routes[0].dst = 'default')), 'routes[0].dst: "default" is not in CIDR notation'],
    ['route gw not an IP', with_((r) => (r.routes[1].gw = 'fd00::1/64')), 'routes[1].gw: string "fd00::1/64" is not an IP address'],
    ['route gw family mismatch', with_((r) => (r.routes[1].gw = '10.0.0.1')), 'routes[1].gw: "10.0.0.1" is IPv4 but dst "::/0" is IPv6'],
    ['routes not an array', with_((r) => (r.routes = { dst: '0.0.0.0/0' })), 'routes: must be an array'],
    ['dns not an object', with_((r) => (r.dns = [])), 'dns: must be an object, got an array'],
    ['dns nameserver not an IP', with_((r) => (r.dns.nameservers = ['ns1.example'])), 'dns.nameservers[0]: "ns1.example" is not an IP address'],
    ['dns search not strings', with_((r) => (r.dns.search = [1])), 'dns.search: must be an array of strings'],
    ['dns domain not a string', with_((r) => (r.dns.domain = ['a'])), 'dns.domain: must be a string'],
    ['0.4.0 without ips[].version', with_((r) => (r.cniVersion = '0.4.0')), 'ips[0].version: missing (required in 0.4.0 results', '0.4.0'],
    ['0.4.0 version mismatch', with_((r) => ((r.cniVersion = '0.4.0'), (r.ips[0].version = '6'))), 'ips[0].version: is "6" but address "10.99.1.2/24" is IPv4', '0.4.0'],
    ['1.1.0 interface mtu negative', with_((r) => ((r.cniVersion = '1.1.0'), (r.interfaces[0].mtu = -5))), 'interfaces[0].mtu: must be a non-negative integer', '1.1.0'],
    ['1.1.0 route table a string', with_((r) => ((r.cniVersion = '1.1.0'), (r.routes[0].table = 'main'))), 'routes[0].table: must be a non-negative integer, got string "main"', '1.1.0'],
  ];
  for (const [name, raw, expected, v] of cases) {
    it(name, () => {
      const p = probs(raw, v ?? '1.0.0');
      expect(p.some((x) => x.includes(expected)), `problems were: ${JSON.stringify(p)}`).toBe(true);
    });
  }

  it('reports every problem at once', () => {
    const r = with_((r) => {
      delete r.cniVersion;
      r.ips[0].address = 'x';
      r.ips[0].interface = 9;
    });
    expect(probs(r)).toHaveLength(3);
  });
});

describe('parseResult', () => {
  it('malformed JSON names the plugin and shows stdout', () => {
    try {
      parseResult('ok, added {eth0', '1.0.0', ref);
      throw new Error('no throw');
    } catch (e) {
      expect(e).toBeInstanceOf(CniRuntimeError);
      expect((e as CniRuntimeError).kind).toBe('invalid-output');
      expect((e as Error).message).toMatch(/^plugin "bridge" \(plugins\[0\]\) ADD printed malformed JSON on stdout \(.*\); expected a CNI 1.0.0 result; stdout was "ok, added \{eth0"$/);
    }
  });
  it('empty stdout', () => {
    expect(() => parseResult('  \n', '1.0.0', ref)).toThrow('plugin "bridge" (plugins[0]) ADD printed nothing on stdout; expected a CNI 1.0.0 result');
  });
  it('invalid fields -> invalid-result with problems', () => {
    try {
      parseResult(JSON.stringify(with_((r) => (r.ips[0].gateway = 'gw'))), '1.0.0', ref);
      throw new Error('no throw');
    } catch (e) {
      const err = e as CniRuntimeError;
      expect(err.kind).toBe('invalid-result');
      expect(err.info.problems).toEqual([{ field: 'ips[0].gateway', problem: 'string "gw" is not an IP address' }]);
      expect(err.message).toBe('plugin "bridge" (plugins[0]) ADD returned an invalid result: ips[0].gateway: string "gw" is not an IP address');
    }
  });
  it('valid result round-trips', () => {
    expect(parseResult(JSON.stringify(valid), '1.0.0', ref)).toEqual(valid);
  });
});

describe('error results', () => {
  it('maps well-known codes', () => {
    expect(describeCniErrorCode(1)).toBe('incompatible CNI version');
    expect(describeCniErrorCode(2)).toBe('unsupported field in network configuration');
    expect(describeCniErrorCode(3)).toBe('container unknown or does not exist');
    expect(describeCniErrorCode(4)).toBe('invalid necessary environment variables');
    expect(describeCniErrorCode(5)).toBe('I/O failure');
    expect(describeCniErrorCode(6)).toBe('failed to decode content');
    expect(describeCniErrorCode(7)).toBe('invalid network config');
    expect(describeCniErrorCode(11)).toBe('try again later');
    expect(describeCniErrorCode(50)).toMatch(/not available/);
    expect(describeCniErrorCode(51)).toMatch(/limited connectivity/);
    expect(describeCniErrorCode(999)).toMatch(/plugin-specific/);
    expect(describeCniErrorCode(1234)).toBe('plugin-specific error');
    expect(describeCniErrorCode(42)).toMatch(/reserved/);
  });

  it('surfaces code/msg/details verbatim in CniError', () => {
    const out = JSON.stringify({ cniVersion: '1.0.0', code: 7, msg: 'missing network name', details: 'field "name"  is required\n' });
    const e = errorFromFailedPlugin(out, 'some log', 1, ref);
    expect(e).toBeInstanceOf(CniError);
    const ce = e as CniError;
    expect(ce.code).toBe(7);
    expect(ce.msg).toBe('missing network name');
    expect(ce.details).toBe('field "name"  is required\n');
    expect(ce.meaning).toBe('invalid network config');
    expect(ce.cniVersion).toBe('1.0.0');
    expect(ce.stderr).toBe('some log');
    expect(ce.message).toBe('plugin "bridge" (plugins[0]) ADD failed with CNI error 7 (invalid network config): missing network name; details: field "name"  is required\n');
  });

  it('error without cniVersion is still a CniError', () => {
    const e = errorFromFailedPlugin('{"code":4,"msg":"required env variables [CNI_IFNAME] missing"}', '', 1, ref) as CniError;
    expect(e).toBeInstanceOf(CniError);
    expect(e.meaning).toBe('invalid necessary environment variables');
  });

  it('non-JSON failure -> plugin-failed with exit code and stderr', () => {
    const e = errorFromFailedPlugin('', 'panic: boom', 2, ref) as CniRuntimeError;
    expect(e).toBeInstanceOf(CniRuntimeError);
    expect(e.kind).toBe('plugin-failed');
    expect(e.message).toBe('plugin "bridge" (plugins[0]) ADD exited with status 2 without a CNI error object on stdout (stdout empty); stderr: "panic: boom"');
  });

  it('malformed error object -> plugin-failed naming the field', () => {
    const e = errorFromFailedPlugin('{"code":"7","msg":"x"}', '', 1, ref) as CniRuntimeError;
    expect(e.kind).toBe('plugin-failed');
    expect(e.message).toMatch(/malformed error object: code: must be a non-negative integer, got string "7"/);
    expect(errorResultProblems({ code: 7 })).toEqual([{ field: 'msg', problem: 'missing (required)' }]);
  });
});

describe('version results', () => {
  const vref = { plugin: 'x', command: 'VERSION' as const };
  it('valid', () => {
    expect(validateVersionResult({ cniVersion: '1.0.0', supportedVersions: ['1.0.0'] }, vref).supportedVersions).toEqual(['1.0.0']);
  });
  it('missing supportedVersions', () => {
    expect(() => validateVersionResult({ cniVersion: '1.0.0' }, vref)).toThrow('plugin "x" VERSION returned an invalid version result: supportedVersions: missing (required)');
  });
});

describe('chaining', () => {
  it('reports what a chained plugin dropped', () => {
    const next: CniResult = { cniVersion: '1.0.0', interfaces: [valid.interfaces![0]!], ips: [] };
    expect(droppedFromPrevResult(valid, next)).toEqual([
      'interfaces[1] "veth1" missing',
      'interfaces[2] "eth0" (sandbox /var/run/netns/p) missing',
      'ips[0] 10.99.1.2/24 missing',
    ]);
    expect(droppedFromPrevResult(valid, valid)).toEqual([]);
  });
  it('IPv6 addresses compare canonically', () => {
    const a: CniResult = { cniVersion: '1.0.0', ips: [{ address: 'fd00:0:0::2/64' }] };
    const b: CniResult = { cniVersion: '1.0.0', ips: [{ address: 'FD00::2/64' }] };
    expect(droppedFromPrevResult(a, b)).toEqual([]);
  });
});

describe('ip helpers', () => {
  it('parseCidr / cidrNetwork / normalizeRouteDst / canonicalIp', () => {
    expect(parseCidr('10.1.2.3/24')).toEqual({ ip: '10.1.2.3', prefix: 24, family: 4 });
    expect(typeof parseCidr('fe80::1%eth0/64')).toBe('string');
    expect(cidrNetwork('10.1.2.3/24')).toBe('10.1.2.0/24');
    expect(cidrNetwork('fd00:1:2:3::5/48')).toBe('fd00:1:2::/48');
    expect(normalizeRouteDst('default', 4)).toBe('0.0.0.0/0');
    expect(normalizeRouteDst('default', 6)).toBe('::/0');
    expect(normalizeRouteDst('10.0.0.1', 4)).toBe('10.0.0.1/32');
    expect(canonicalIp('FD00:0000:0:0::1')).toBe('fd00::1');
    // RFC 5952 §5, and what inet_ntop (so `ip`) prints: an IPv4-mapped address keeps its dotted quad
    expect(canonicalIp('::ffff:10.0.0.1')).toBe('::ffff:10.0.0.1');
    expect(canonicalIp('::FFFF:a00:1')).toBe('::ffff:10.0.0.1');
  });
});
