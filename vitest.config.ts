import { defineConfig } from 'vitest/config';

// Integration test files run in parallel worker processes: every file uses run ids derived from its worker's pid
// (test/helpers/topo.ts testRunId), so namespaces, state files and Docker objects of two files never share a name,
// and the tests judge only their own runs. Single files wait on the kernel (probes, captures, timeouts), so more
// workers than the machine's cores overlaps those waits — up to a point: the whole suite is CPU-bound on 2 cores
// (process start-ups, ip/nsenter/ping/tcpdump; README "The test command" figures), and 8 workers next to other
// 1,000-node runs (load average 40) timed tests out by the dozen, so 4 by default (VXLAB_TEST_WORKERS overrides). Long files are split (inproc-*, conformance-*) so that no single file
// is the critical path; vitest starts the longest files first (its results cache).
// One file needs the root namespace to itself: lifecycle.test.ts compares a snapshot of the root namespace before
// `up` and after `down`, and docker.test.ts adds Docker bridges there meanwhile. It runs alone, after the rest
// (sequence.groupOrder 1). docker.test.ts and docker-ipv6.test.ts run one after the other (project docker-serial,
// alongside the parallel group). Each compares the root namespace before `up` and after `down`, leaving out only the
// other runs' labelled Docker bridges and the kernel's anycast routes that follow the host's IPv6 forwarding (dockerd
// turns it on while any IPv6 Docker network exists; docker-ipv6.test.ts checks the forwarding sysctls of its own runs
// directly, test/helpers/host.ts), so they can run side by side and were seen to; they stay serial because the suite
// is CPU-bound on 2 cores, where side by side gains little wall time, and the two files' container start-ups at
// once stretched a test past its 120 s bound at load 27 (session 7).
const INTEGRATION_WORKERS = Number(process.env.VXLAB_TEST_WORKERS ?? 4);
const ALONE = ['test/integration/lifecycle.test.ts'];
const DOCKER_SERIAL = ['test/integration/docker.test.ts', 'test/integration/docker-ipv6.test.ts'];

export default defineConfig({
  test: {
    // compile dist/ first if it is older than the sources: tests spawn bin/vxlab.js, which runs dist/
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: { name: 'parallel', include: ['test/**/*.test.ts'], exclude: [...ALONE, ...DOCKER_SERIAL], maxWorkers: INTEGRATION_WORKERS, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'docker-serial', include: DOCKER_SERIAL, maxWorkers: 1, fileParallelism: false, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'root-alone', include: ALONE, maxWorkers: 1, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
