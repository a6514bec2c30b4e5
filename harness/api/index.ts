// `import { Lab } from 'vxlab'`: the public API. Only what is exported here is public; everything else is internal.
import './polyfill.ts';

export { Lab } from './lab.ts';
export type {
  TopologySpec,
  FaultSpec,
  LabUpOptions,
  LabAttachOptions,
  LabExecOptions,
  LabExecResult,
  LabTestOptions,
  LabReport,
  LabRunOptions,
  LabRunResult,
  LabValidation,
  LabPlan,
  LabCleanupResult,
  LabGraphOptions,
  LabGraphFormat,
  LabConformanceOptions,
  LabConformanceResult,
  FaultOutcome,
  StepSpec,
  StepOutcome,
} from './lab.ts';
export type { LabNode, LabPod, LabStatus } from './status.ts';
export type { CheckResult, Status as CheckStatus } from '../report/types.ts';
export type { Verdict } from '../runner/expect.ts';
export type { VtepStats } from '../vtep/stats.ts';
export { TopologyError, type TopologyIssue, type SourceLoc } from '../topology/errors.ts';
export { CommandError } from '../util/exec.ts';
export { NotUpError, UsageError, PreflightError } from '../util/errors.ts';
