// Pure pieces of issue #10: expectations judged safely, stacks never reach a report, the TCP sink fails in one line,
// MACs that cannot be a VTEP's, the work scope that stops probes.
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { judge, compilePattern } from '../../harness/runner/expect.ts';
import { run, stripStack } from '../../harness/util/exec.ts';
import { macProblem } from '../../harness/topology/normalize.ts';
import { InterruptedError, withScope, outsideScope } from '../../harness/util/scope.ts';
import type { CheckResult } from '../../harness/report/types.ts';

const SINK = fileURLToPath(new URL('../../harness/probe/tcp-sink.mjs', import.meta.url));

describe('expectations', () => {
  it('an invalid pattern does not throw when judged: the expectation does not hold', () => {
    const r: CheckResult = { id: 'routes/fdb', suite: 'routes', title: 't', status: 'fail', message: 'x', durationMs: 1 };
    expect(typeof compilePattern('((')).toBe('string');
    const [v] = judge([r], { 'routes/fdb': { result: 'fail', message: '((' } });
    expect(v!.holds).toBe(false);
  });
});

describe('no Node.js stack in a report', () => {
  it('stripStack keeps the story, drops the frames', () => {
    const text = `node:events:502\n      throw er; // Unhandled 'error' event\n      ^\n\nError: listen EADDRNOTAVAIL: address not available 10.244.2.2:5201\n    at Server.setupListenHandle [as _listen2] (node:net:1918:21)\n    at listenInCluster (node:net:1997:12)\n\nNode.js v20.20.2`;
    expect(stripStack(text)).toBe(`node:events:502\nError: listen EADDRNOTAVAIL: address not available 10.244.2.2:5201`);
  });

  it('the TCP sink reports a listen failure in one line (an address this host does not have)', async () => {
    const r = await execa(process.execPath, [SINK, '192.0.2.77', '5201', '3000'], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stdout.trim()).toBe('error listen on 192.0.2.77:5201: EADDRNOTAVAIL');
    expect(r.stderr).toBe('');
  });
});

describe('VTEP MACs', () => {
  it.each([
    ['00:00:00:00:00:00', /all zeros/],
    ['ff:ff:ff:ff:ff:ff', /broadcast/],
    ['01:00:5e:00:00:01', /multicast/],
    ['33:33:00:00:00:01', /multicast/],
  ])('%s is refused', (mac, why) => expect(macProblem(mac)).toMatch(why));
  it('a locally administered unicast MAC is fine', () => expect(macProblem('02:00:00:00:00:01')).toBeUndefined());
});

describe('work scope', () => {
  it('run() starts nothing once the scope is stopped, and kills what runs when it stops', async () => {
    const ac = new AbortController();
    ac.abort('SIGINT');
    await expect(withScope({ signal: ac.signal }, () => run(['true']))).rejects.toBeInstanceOf(InterruptedError);
    const ac2 = new AbortController();
    const marker = String(3_000_000 + (process.pid % 100_000)); // a sleep no one else runs
    const p = withScope({ signal: ac2.signal }, () => run(['sleep', marker], { reject: false }));
    setTimeout(() => ac2.abort('SIGTERM'), 100);
    await expect(p).rejects.toThrow(/interrupted \(SIGTERM\)/);
    const alive = (await execa('pgrep', ['-f', `^sleep ${marker}$`], { reject: false })).stdout.trim();
    expect(alive).toBe('');
  });

  it('undo work runs outside the scope, so the signal that stopped a run cannot stop its teardown', async () => {
    const ac = new AbortController();
    ac.abort('SIGINT');
    const r = await withScope({ signal: ac.signal }, () => outsideScope(() => run(['true'])));
    expect(r.exitCode).toBe(0);
  });
});
