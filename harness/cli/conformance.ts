// vxlab conformance: run a CNI plugin chain through the cni/* spec checks and the four network suites
// on a live VXLAN overlay whose pods that chain attached. The orchestration is harness/runner/conformance.ts.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from './main.ts';
import { EXIT, interruptSignal, pickRunId, UsageError } from './common.ts';
import { isReporterName, reporterNames } from '../report/index.ts';
import { CONFORMANCE_TOPOLOGY, DEFAULT_BIN_DIRS, prepareConformance, type ConformanceInput } from '../runner/conformance.ts';
import { Lab, type LabConformanceOptions } from '../api/lab.ts';

export { CONFORMANCE_TOPOLOGY, DEFAULT_BIN_DIRS, CHECK_PORT_MAPPINGS, podNsFactory, runConformance, type ConformanceInput } from '../runner/conformance.ts';

export const CONFORMANCE_OPTIONS = {
  conflist: { type: 'string' },
  'bin-dir': { type: 'string', multiple: true },
  topology: { type: 'string' },
  reporter: { type: 'string' },
  out: { type: 'string' },
  'run-id': { type: 'string' },
  'plugin-timeout': { type: 'string' },
} as const;

/** Parse the arguments into Lab.conformance's options (usage errors here; the inputs are checked by it). */
export function conformanceOptions(argv: string[]): LabConformanceOptions & { runId: string } {
  const { values } = parseArgs({ args: argv, allowPositionals: false, options: CONFORMANCE_OPTIONS });
  if (!values.conflist) throw new UsageError('conformance: expected --conflist FILE');
  const reporter = values.reporter ?? 'pretty';
  if (!isReporterName(reporter)) throw new UsageError(`--reporter ${reporter}: unknown reporter; expected one of: ${reporterNames.join(', ')}`);
  let pluginTimeoutMs: number | undefined;
  if (values['plugin-timeout'] !== undefined) {
    pluginTimeoutMs = Number(values['plugin-timeout']);
    if (!Number.isInteger(pluginTimeoutMs) || pluginTimeoutMs < 100) throw new UsageError(`--plugin-timeout ${values['plugin-timeout']}: expected milliseconds (an integer ≥ 100)`);
  }
  const file = values.topology ?? CONFORMANCE_TOPOLOGY;
  return {
    conflist: values.conflist,
    binDirs: values['bin-dir'],
    topology: values.topology,
    runId: pickRunId(resolve(file), values['run-id'], true),
    reporter,
    outDir: values.out,
    pluginTimeoutMs,
    progress: true,
  };
}

/** The arguments, parsed and checked as Lab.conformance checks them before the host changes (prepareConformance). */
export async function resolveConformance(argv: string[]): Promise<ConformanceInput> {
  const o = conformanceOptions(argv);
  return prepareConformance({ ...o, timeoutMs: o.pluginTimeoutMs });
}

const cmd: Command = {
  summary: 'check a CNI plugin chain: the cni/* spec checks plus the network suites on pods it attaches',
  usage: 'vxlab conformance --conflist FILE [--bin-dir DIR]… [--topology FILE] [--reporter tap|junit|json|pretty|html] [--out DIR] [--run-id ID] [--plugin-timeout MS]',
  help: `Brings up a VXLAN overlay (vxlab programs the VTEPs, neighbours, FDB and routes, as flanneld or
calico-node would), then runs two groups of checks against the plugin chain in --conflist:
  cni/*           the CNI spec checks (VERSION, ADD result, netns state, CHECK, DEL, concurrent ADD,
                  error objects), in the first node's namespace with throwaway pod namespaces
  the suites      routes, encapsulation, mtu, connectivity, on pods the chain attached (CNI ADD per pod
                  from inside its node namespace; their addresses come from the ADD results)
plus conformance/attach and conformance/detach (ADD and DEL of every pod). One report; exit 0 iff
nothing failed. Each node's pod subnet is injected into host-local IPAM ranges (dataDir under the run's
work dir), and the main plugin's mtu is set to the pod MTU (bridge, ptp, macvlan, ipvlan, vlan) unless
the conflist sets one; a bridge without isGateway gets isGateway: true.

Layout: without --topology, the shipped topologies/conformance-default.yaml (3 nodes × 2 pods) is used
and the layout follows the conflist: main plugin (plugins[0]) ptp → calico layout (vxlan.calico,
routed /32 pods), anything else → flannel layout (flannel.1, the bridge plugin owns cni0). With
--topology FILE, that file's overlay.layout decides and its overlay.cni is replaced by --conflist.
With overlay.builder: external in that file, your control plane builds the overlay instead of vxlab:
its setup programs run first (daemons stay up for the whole run), the pods are attached by the chain,
and the suites judge every node's entries against the VTEP identities the nodes announce.

Bad input (missing conflist, invalid JSON, unknown field, plugin not in --bin-dir) exits 2 naming the
file and field, before anything on the host changes.
  --conflist FILE      the network configuration list (.conflist) to test
  --bin-dir DIR        plugin directory, repeatable (default: ${DEFAULT_BIN_DIRS.join(', ')})
  --topology FILE      run on this topology instead of the default
  --reporter NAME      pretty (default) | tap | junit | json | html, on stdout
  --out DIR            also write report.tap, report.xml, report.json, report.html (and artifacts on failure) to DIR
  --run-id ID          run id (default: random)
  --plugin-timeout MS  per plugin invocation (default 10000); a plugin that takes longer is killed`,
  async main(argv) {
    const o = conformanceOptions(argv);
    const intr = interruptSignal();
    try {
      // Lab.conformance checks every input before the host changes (exit 2), then the preflight (exit 3)
      const r = await Lab.conformance({ ...o, signal: intr.signal });
      process.stdout.write(r.output);
      if (r.interrupted) {
        console.error(r.message);
        return EXIT.INTERRUPTED;
      }
      return r.exitCode ? EXIT.FAIL : EXIT.OK;
    } finally {
      intr.dispose();
    }
  },
};
export default cmd;
