// `import { test, labTest } from 'vxlab/vitest'`: a vitest fixture that gives each test a Lab and always tears it
// down (passed, failed or timed out), and the matchers expect(report).toPass() and expect(lab).toReach(a, b).
import './polyfill.ts';
import { isIP } from 'node:net';
import { expect, test as base } from 'vitest';
import { Lab, type LabReport, type LabUpOptions, type TopologySpec } from './lab.ts';

export interface LabFixtures {
  /** the topology each test gets: a file path or an object (set with labTest(topology) or test.override({ topology })) */
  topology: string | TopologySpec | undefined;
  /** options for Lab.up (runId, faults, …) */
  labOptions: LabUpOptions;
  /** a live lab, brought up for the test and always torn down after it */
  lab: Lab;
}

export interface ToReachOptions {
  /** ping attempts (1 s each) before the destination counts as unreachable (default 3) */
  attempts?: number;
}

interface VxlabMatchers<R = unknown> {
  /** every check passed (and, with expect:, every expectation holds); the message lists the failing checks */
  toPass(): R;
  /** the first pod ('node/pod') reaches the second (a 'node/pod' or an IP address) by ping; use with await */
  toReach(from: string, to: string, opts?: ToReachOptions): Promise<R>;
}

declare module 'vitest' {
  interface Matchers<T = any> extends VxlabMatchers<T> {}
}

function describeResult(r: LabReport['results'][number]): string {
  const lines = [`  ✗ ${r.id}: ${r.message ?? r.title}`];
  for (const d of (r.diffs ?? []).slice(0, 8)) lines.push(`      ${d}`);
  if ((r.diffs?.length ?? 0) > 8) lines.push(`      … ${r.diffs!.length - 8} more`);
  return lines.join('\n');
}

expect.extend({
  toPass(received: LabReport) {
    if (!received || !Array.isArray(received.results)) {
      return { pass: false, message: () => `expected a report from lab.test(), got ${this.utils.printReceived(received)}` };
    }
    const failing = received.results.filter((r) => r.status === 'fail');
    const broken = (received.verdicts ?? []).filter((v) => !v.holds);
    const pass = received.verdicts ? broken.length === 0 : failing.length === 0;
    const summary = `${received.passed} passed, ${received.failed} failed, ${received.skipped} skipped`;
    return {
      pass,
      message: () =>
        pass
          ? `expected the report of ${received.topology} (run ${received.runId}) to fail, but it passed: ${summary}`
          : [
              `expected every check of ${received.topology} (run ${received.runId}) to pass: ${summary}`,
              ...failing.map(describeResult),
              ...broken.map((v) => `  ✗ expectation ${v.id}: expected ${v.expected}, observed ${v.observed}: ${v.why}`),
              ...(received.artifactsDir ? [`  artifacts: ${received.artifactsDir}`] : []),
            ].join('\n'),
    };
  },

  async toReach(received: Lab, from: string, to: string, opts: ToReachOptions = {}) {
    if (!(received instanceof Lab)) return { pass: false, message: () => `expected a Lab, got ${this.utils.printReceived(received)}` };
    const src = received.pod(from);
    const dst = isIP(to) ? to : received.pod(to).ip;
    const label = `${from} (${src.ip}) → ${to}${isIP(to) ? '' : ` (${dst})`}`;
    const attempts = Math.max(1, opts.attempts ?? 3);
    let last = '';
    let pass = false;
    for (let i = 0; i < attempts && !pass; i++) {
      const r = await received.exec(from, ['ping', '-n', '-c', '1', '-W', '1', dst], { timeoutMs: 5000 });
      pass = r.exitCode === 0;
      last = `${r.stdout}${r.stderr}`.trim().split('\n').filter(Boolean).slice(-2).join(' | ');
    }
    return {
      pass,
      message: () =>
        pass
          ? `expected ${label} to be unreachable, but ping got a reply`
          : `expected ${label} to be reachable: ${attempts} ping(s) of 1 s unanswered${last ? `; ping said: ${last}` : ''}`,
    };
  },
});

function makeTest(defaultTopology: string | TopologySpec | undefined, defaultOptions: LabUpOptions) {
  return base.extend<LabFixtures>({
    topology: async ({}, use) => use(defaultTopology),
    labOptions: async ({}, use) => use(defaultOptions),
    lab: async ({ topology, labOptions, onTestFinished, signal }, use) => {
      if (topology === undefined) {
        throw new Error("vxlab/vitest: no topology for the 'lab' fixture; use labTest(topology) or test.override({ topology })");
      }
      // A test that times out may do so while up() is still running, before use(): vitest then never resumes this
      // fixture. onTestFinished runs whatever happened (pass, fail, timeout), waits for up() and removes the lab.
      // The test's own signal (aborted when it times out or the run is cancelled) stops an up still in progress,
      // which rolls back at once instead of finishing first (a caller's labOptions.signal wins)
      const pending = Lab.up(topology, { ...labOptions, signal: labOptions.signal ?? signal });
      let removed: Promise<void> | undefined;
      const down = () => (removed ??= pending.then((l) => l.down(), () => undefined));
      onTestFinished(down, 120_000);
      const lab = await pending;
      try {
        await use(lab);
      } finally {
        await down();
      }
    },
  });
}

/** vitest's test with a `lab` fixture; give it a topology with test.override({ topology }) in a describe block. */
export const test = makeTest(undefined, {});

/** vitest's test whose `lab` fixture is this topology, brought up for each test and always torn down. */
export function labTest(topology: string | TopologySpec, options: LabUpOptions = {}) {
  return makeTest(topology, options);
}

export { Lab };
