// The names of every suite and check, without loading the suites themselves: `vxlab validate` checks `expect:` keys
// and step checks against these, and must start quickly (npm run bench, row cli), so it must not import the suites
// (and with them the capture decoder, the probes and the report writers). test/unit/suite-ids.test.ts keeps these
// lists equal to the registry in suites/index.ts: add a check there and here.
export const SUITE_NAMES: readonly string[] = ['routes', 'encapsulation', 'mtu', 'connectivity'];

export const CHECK_IDS: readonly string[] = [
  'routes/vxlan-device',
  'routes/remote-subnets',
  'routes/neighbours',
  'routes/fdb',
  'routes/pod-attachment',
  'routes/node-sysctls',
  'encapsulation/udp-dst-port',
  'encapsulation/vxlan-header',
  'encapsulation/vni',
  'encapsulation/outer-addresses',
  'encapsulation/inner-addresses',
  'encapsulation/no-plain-pod-traffic',
  'encapsulation/same-node-local',
  'encapsulation/src-port-entropy',
  'mtu/vtep-mtu',
  'mtu/pod-mtu',
  'mtu/df-boundary',
  'mtu/path-mtu',
  'mtu/tcp-transfer',
  'connectivity/full-mesh',
  'connectivity/isolation',
];
