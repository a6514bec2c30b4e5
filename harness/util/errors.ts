// Errors shared by the library API and the CLI (the CLI maps each to its exit code: harness/cli/common.ts).
// TopologyError lives with the loader (harness/topology/errors.ts), CommandError with the runner (harness/util/exec.ts).

/** Bad usage: an unknown target, option or value (CLI exit 2). */
export class UsageError extends Error {
  readonly code = 'VXLAB_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Not root, or a host tool is missing (CLI exit 3). */
export class PreflightError extends Error {
  readonly code = 'VXLAB_PREFLIGHT';
  constructor(message: string) {
    super(message);
    this.name = 'PreflightError';
  }
}

/** The run is not up: never brought up, already down, or removed by someone else (CLI exit 4). */
export class NotUpError extends Error {
  readonly code = 'VXLAB_NOT_UP';
  constructor(
    message: string,
    readonly runId?: string,
  ) {
    super(message);
    this.name = 'NotUpError';
  }
}
