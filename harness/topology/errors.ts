// Errors for bad input: always `file:line:col: key: what was expected`. Never a stack trace.
export interface SourceLoc {
  file: string;
  line: number;
  col: number;
}

export interface TopologyIssue {
  loc?: SourceLoc;
  /** dotted key path, e.g. nodes[1].podSubnet */
  key: string;
  message: string;
}

/** Bad input: every issue found, each with its key path and (for files) file:line:col. */
export class TopologyError extends Error {
  readonly code = 'VXLAB_BAD_TOPOLOGY';
  constructor(readonly issues: TopologyIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'TopologyError';
  }
  /** file of the first issue (undefined for a topology object, unless the key came from an `extends` file) */
  get file(): string | undefined {
    return this.issues[0]?.loc?.file;
  }
  get line(): number | undefined {
    return this.issues[0]?.loc?.line;
  }
  get column(): number | undefined {
    return this.issues[0]?.loc?.col;
  }
  /** dotted key path of the first issue, e.g. nodes[1].podSubnet ('' for the whole document) */
  get key(): string {
    return this.issues[0]?.key ?? '';
  }
}

export function formatIssue(i: TopologyIssue): string {
  const where = i.loc ? `${i.loc.file}:${i.loc.line}:${i.loc.col}: ` : '';
  return `${where}${i.key ? `${i.key}: ` : ''}${i.message}`;
}

export type Path = (string | number)[];

export function pathKey(p: Path): string {
  let s = '';
  for (const k of p) s += typeof k === 'number' ? `[${k}]` : s ? `.${k}` : k;
  return s;
}

/** A semantic error found by normalize; load() maps its path back to file:line:col. */
export class SemanticError extends Error {
  constructor(readonly path: Path, message: string) {
    super(message);
  }
}

/** Turn a SemanticError from normalize into a located TopologyError (loaded: load.ts's Loaded). */
export function locateSemantic(loaded: { locate(path: Path, preferKey?: boolean): SourceLoc | undefined }, e: unknown): unknown {
  if (e instanceof SemanticError) {
    return new TopologyError([{ loc: loaded.locate(e.path), key: pathKey(e.path), message: e.message }]);
  }
  return e;
}
