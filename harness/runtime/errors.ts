// Errors of the runtime layer that the CLI maps to exit codes (code VXLAB_PREFLIGHT → 3).
export class RuntimeUnavailableError extends Error {
  readonly code = 'VXLAB_PREFLIGHT';
}
