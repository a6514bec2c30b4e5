// Shared sample RunReport for the reporter tests.
import type { RunReport } from '../../harness/report/types.ts';

export const GRID = ['      pod-a pod-b pod-c', 'pod-a   .     ✓     ✗', 'pod-b   ✓     .     ✓', 'pod-c   ✗     ✓     .'].join('\n');

export function sampleReport(): RunReport {
  return {
    topology: 'three-node',
    file: 'topologies/three-node.yaml',
    runId: 'run-42',
    startedAt: '2024-05-01T10:00:00.000Z',
    durationMs: 4321,
    artifactsDir: '/tmp/vxlab/run-42',
    results: [
      { id: 'encapsulation/udp-dst-port', suite: 'encapsulation', title: 'VXLAN UDP port', status: 'pass', durationMs: 12 },
      {
        id: 'routes/remote-subnets',
        suite: 'routes',
        title: 'routes to remote pod subnets',
        status: 'fail',
        message: 'node-b is missing 1 route',
        expected: { routes: ['10.244.1.0/24 via 10.0.0.2 dev vxlan0', '10.244.2.0/24 via 10.0.0.3 dev vxlan0'], onlink: true },
        observed: { routes: ['10.244.1.0/24 via 10.0.0.2 dev vxlan0'], onlink: 'yes' },
        diffs: ['- 10.244.2.0/24 via 10.0.0.3 dev vxlan0', '+ 10.244.9.0/24 # stale: "old" \\ route'],
        durationMs: 87,
        artifacts: '/tmp/vxlab/run-42/routes',
      },
      {
        id: 'connectivity/full-mesh',
        suite: 'connectivity',
        title: 'pod-to-pod full mesh',
        status: 'fail',
        message: '2 of 6 pairs unreachable',
        expected: 'all pairs reachable',
        observed: 'pod-a -> pod-c: timeout\npod-c -> pod-a: timeout',
        details: GRID,
        durationMs: 2100,
      },
      { id: 'mtu/pmtu #2 \\ probe', suite: 'mtu', title: 'path MTU', status: 'skip', skipReason: 'needs #jumbo frames', durationMs: 0 },
      {
        id: 'external/fdb-script',
        suite: 'external',
        title: 'fdb-script',
        status: 'fail',
        message: 'exit code 1',
        durationMs: 33,
        subtests: [
          { id: 'external/fdb-script/1-fdb-has-entries', suite: 'external', title: 'fdb has entries', status: 'pass', durationMs: 0 },
          {
            id: 'external/fdb-script/2-fdb-dst-correct',
            suite: 'external',
            title: 'fdb dst correct',
            status: 'fail',
            message: 'wrong dst',
            expected: '10.0.0.2',
            observed: '10.0.0.9',
            durationMs: 0,
          },
          { id: 'external/fdb-script/3-ipv6', suite: 'external', title: 'ipv6', status: 'skip', skipReason: 'no v6', durationMs: 0 },
        ],
      },
    ],
  };
}
