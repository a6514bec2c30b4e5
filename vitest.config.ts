import { defineConfig } from 'vitest/config';
import HeavyFirst from './test/sequencer.ts';

// Integration test files run in parallel worker processes: every file uses run ids derived from its worker's pid
// (test/helpers/topo.ts testRunId), so namespaces, state files and Docker objects of two files never share a name,
// and the tests judge only their own runs. Single files wait on the kernel (probes, captures, timeouts), so more
// workers than the machine's cores overlaps those waits — up to a point: the whole suite is CPU-bound on 2 cores
// (process start-ups, ip/nsenter/ping/tcpdump; README "The test command" figures), and 8 workers next to other
// 1,000-node runs (load average 40) timed tests out by the dozen. 6 by default (VXLAB_TEST_WORKERS overrides): on the
// quiet 2-core machine 4 workers left the CPUs 20–45 % idle through the middle of the run (files waiting on probes and
// captures), and full runs took 4 workers 189–193 s, 5 187 s, 6 167–168 s, 8 177 s (2026-11-30, session 11).
// Long files are split (inproc-*, conformance-*) so that no single file is the critical path.
// One file needs the root namespace to itself: lifecycle.test.ts compares a snapshot of the root namespace before
// `up` and after `down`, and docker.test.ts adds Docker bridges there meanwhile. It runs alone, after the rest
// (sequence.groupOrder 1). docker.test.ts and docker-ipv6.test.ts run in the parallel group, side by side with the
// rest and with each other: each compares the root namespace before `up` and after `down`, leaving out only the other
// runs' labelled Docker bridges and the kernel's anycast routes that follow the host's IPv6 forwarding (dockerd turns
// it on while any IPv6 Docker network exists; docker-ipv6.test.ts checks the forwarding sysctls of its own runs
// directly, test/helpers/host.ts), and their tests have 240 s bounds. (Sessions 7–8 had them in a project of their
// own with maxWorkers 1, meant to run "alongside the parallel group"; vitest puts such a project in a sequential group
// of its own that runs after every other group, lifecycle.test.ts's included: ~200 s of one file at a time at the
// end of every run.) Files start heaviest first (test/sequencer.ts, from the measured test/durations.json), so the
// two docker files start at once with the other long ones and the last files to finish are short.
const INTEGRATION_WORKERS = Number(process.env.VXLAB_TEST_WORKERS ?? 6);
const ALONE = ['test/integration/lifecycle.test.ts'];

export default defineConfig({
  test: {
    // compile dist/ first if it is older than the sources: tests spawn bin/vxlab.js, which runs dist/
    globalSetup: ['test/global-setup.ts'],
    sequence: { sequencer: HeavyFirst },
    // per-file CPU accounting (test/helpers/cpu-account.ts) when VXLAB_TEST_CPU names an output file
    setupFiles: process.env.VXLAB_TEST_CPU ? ['test/helpers/cpu-account.ts'] : [],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: { name: 'parallel', include: ['test/integration/**/*.test.ts'], exclude: ALONE, maxWorkers: INTEGRATION_WORKERS, sequence: { groupOrder: 0 } },
      },
      {
        // pure-logic files share their workers and module graph (isolate: false): a fresh worker and a fresh import of
        // the harness per file was most of their CPU (test/unit: 128 CPU-s isolated, 70 shared, all 1,008 tests pass
        // either way; 2026-11-30 at load average 11–16). They restore what they stub (vi.restoreAllMocks). Integration
        // files stay one worker each: shared, six of them used more CPU, not less (95 vs 68 CPU-s, mostly system time:
        // every process a long-lived worker spawns costs more; load average ~20).
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], isolate: false, maxWorkers: INTEGRATION_WORKERS, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'root-alone', include: ALONE, maxWorkers: 1, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
