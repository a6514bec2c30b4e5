// Error types of the CNI runtime. Every message names the plugin, the command and, where it applies,
// the field that was wrong.

/** Well-known CNI error codes (CNI spec 1.0.0 / 1.1.0, "Error codes"). */
export const CNI_ERROR_CODES: Readonly<Record<number, string>> = Object.freeze({
  1: 'incompatible CNI version',
  2: 'unsupported field in network configuration',
  3: 'container unknown or does not exist',
  4: 'invalid necessary environment variables',
  5: 'I/O failure',
  6: 'failed to decode content',
  7: 'invalid network config',
  11: 'try again later',
  50: 'the plugin is not available (STATUS)',
  51: 'the plugin is not available, and existing containers in the network may have limited connectivity (STATUS)',
});

/**
 * Meaning of a CNI error code. 0-99 are reserved for well-known errors by the spec; 100+ are
 * plugin-specific. 999 is what the reference plugins (libcni `types.ErrInternal`) use for
 * "any other failure".
 */
export function describeCniErrorCode(code: number): string {
  const known = CNI_ERROR_CODES[code];
  if (known) return known;
  if (!Number.isInteger(code) || code < 0) return 'invalid error code (not a non-negative integer)';
  if (code === 999) return 'plugin-specific error (999: generic/internal failure)';
  if (code >= 100) return 'plugin-specific error';
  return 'reserved well-known code without an assigned meaning';
}

/** Whether the code is a "retry later" class error (11, 50, 51). */
export function isRetryableCniCode(code: number): boolean {
  return code === 11 || code === 50 || code === 51;
}

export type CniCommand = 'ADD' | 'CHECK' | 'DEL' | 'VERSION' | 'STATUS' | 'GC';

/** A structured error object that a plugin printed (non-zero exit, `{code, msg, details}` on stdout). */
export class CniError extends Error {
  readonly kind = 'plugin-error' as const;
  /** human meaning of `code` (see describeCniErrorCode) */
  readonly meaning: string;
  constructor(
    readonly code: number,
    /** `msg`, verbatim */
    readonly msg: string,
    /** `details`, verbatim (may be undefined) */
    readonly details: string | undefined,
    readonly plugin: string,
    readonly command: CniCommand,
    readonly pluginIndex?: number,
    readonly cniVersion?: string,
    readonly stderr = '',
    readonly exitCode?: number,
  ) {
    const meaning = describeCniErrorCode(code);
    const where = pluginIndex === undefined ? '' : ` (plugins[${pluginIndex}])`;
    super(
      `plugin "${plugin}"${where} ${command} failed with CNI error ${code} (${meaning}): ${msg}` +
        (details ? `; details: ${details}` : ''),
    );
    this.name = 'CniError';
    this.meaning = meaning;
  }
}

export type CniRuntimeErrorKind =
  | 'plugin-not-found'
  | 'timeout'
  | 'invalid-output' // stdout is not JSON / not the expected document
  | 'invalid-result' // JSON, but the result does not satisfy the spec
  | 'plugin-failed' // non-zero exit without a CNI error object
  | 'chaining' // a chained plugin dropped prevResult content
  | 'no-cached-result'
  | 'already-added'
  | 'unsupported'
  | 'invalid-args'
  | 'gc-failed';

/** A failure detected by the runtime itself (the plugin did not report a structured error). */
export class CniRuntimeError extends Error {
  constructor(
    readonly kind: CniRuntimeErrorKind,
    message: string,
    readonly info: {
      plugin?: string;
      command?: CniCommand;
      pluginIndex?: number;
      /** individual problems, e.g. one per invalid result field */
      problems?: ResultProblem[];
      exitCode?: number;
      stdout?: string;
      stderr?: string;
      durationMs?: number;
    } = {},
  ) {
    super(message);
    this.name = 'CniRuntimeError';
  }
}

export interface ResultProblem {
  /** JSON path of the offending field, e.g. `ips[0].address` */
  field: string;
  problem: string;
}

/** A conflist (network configuration list) that cannot be used, naming the file and field. */
export class CniConfigError extends Error {
  constructor(
    readonly source: string,
    readonly field: string | undefined,
    readonly problem: string,
  ) {
    super(`${source}: ${field ? `${field}: ` : ''}${problem}`);
    this.name = 'CniConfigError';
  }
}
