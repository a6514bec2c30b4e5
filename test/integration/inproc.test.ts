// #16: up applies the plan from its own process — sysctls (setns + /proc/sys/net, inns.ts) and every `ip`/`bridge`
// batch line: links (bridge, veth with its peer moved into another namespace, vxlan with all its attributes), link
// settings, addresses, neighbours, routes, FDB entries (rtnetlink, nl-apply.ts) — instead of one ip/bridge/nsenter
// process per namespace. The kernel state must be exactly what the plan's commands build: the same topology is
// brought up both ways (VXLAB_APPLY=processes runs the plan's commands) and every namespace's dumps are compared —
// segments, router, nodes and pods; the root namespace keeps its own values.
// #17: steps reprogram peers the same way (neighbours, FDB entries, routes over rtnetlink; namespaces added and
// deleted as `ip netns` does): every step type applied both ways, on both layouts, leaves the same kernel state.
// The in-process apply tests are split over inproc.test.ts, inproc-up2.test.ts, inproc-steps.test.ts and
// inproc-errors.test.ts (helpers: test/helpers/inproc.ts) so that vitest runs them in parallel workers.
import { afterEach, describe, it } from 'vitest';
import { needsRoot } from '../helpers/root.ts';
import type { Running } from '../../harness/runtime/lifecycle.ts';
import { UP_CASES, compareUp, upTitle } from '../helpers/inproc.ts';

describe.skipIf(needsRoot)('in-process apply (setns + /proc/sys/net + rtnetlink) equals the plan run by processes (root)', () => {
  const live: Running[] = [];
  afterEach(async () => {
    for (const r of live.splice(0).reverse()) await r.down();
  });

  for (const [what, make] of UP_CASES.slice(0, 3)) {
    it(upTitle(what), { timeout: 300_000 }, () => compareUp(what, make, live));
  }
});
