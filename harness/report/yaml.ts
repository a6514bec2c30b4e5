// A small, conservative YAML emitter for TAP diagnostics.
//
// Every string is written either as a double-quoted scalar (JSON-style escapes, which
// are also valid YAML escapes) or, for readable multi-line text, as a `|` block literal.
// Plain (unquoted) scalars are never used for strings, so a value such as "yes",
// "2024-01-01", "0o12" or "1:20" reads back as the same string under YAML 1.1 and 1.2
// alike. Characters YAML does not allow in a stream are escaped as \uXXXX.
import { toPlain, type Plain } from './plain.ts';

/** Emit `value` (normally an object) as YAML lines, each prefixed with `indent`. */
export function yamlLines(value: unknown, indent = ''): string[] {
  const p = toPlain(value);
  const lines = p !== null && typeof p === 'object' && !isEmpty(p) ? node(p, 0) : [scalar(p ?? null)];
  return lines.map((l) => indent + l);
}

/** Emit `value` as a YAML document body (no `---`), ending without a newline. */
export function toYaml(value: unknown): string {
  return yamlLines(value).join('\n');
}

const pad = (n: number) => ' '.repeat(n);

function isEmpty(p: Plain[] | { [k: string]: Plain }): boolean {
  return Array.isArray(p) ? p.length === 0 : Object.keys(p).length === 0;
}

function node(p: Plain[] | { [k: string]: Plain }, ind: number): string[] {
  const out: string[] = [];
  if (Array.isArray(p)) {
    for (const item of p) {
      if (item !== null && typeof item === 'object' && !isEmpty(item)) {
        const sub = node(item, ind + 2);
        sub[0] = pad(ind) + '- ' + sub[0]!.slice(ind + 2);
        out.push(...sub);
      } else {
        const block = typeof item === 'string' ? blockLiteral(item, ind + 2) : null;
        if (block) out.push(pad(ind) + '- ' + block[0], ...block.slice(1));
        else out.push(pad(ind) + '- ' + scalar(item));
      }
    }
    return out;
  }
  for (const [k, v] of Object.entries(p)) {
    const key = pad(ind) + yamlKey(k) + ':';
    if (v !== null && typeof v === 'object' && !isEmpty(v)) {
      out.push(key, ...node(v, ind + 2));
    } else {
      const block = typeof v === 'string' ? blockLiteral(v, ind + 2) : null;
      if (block) out.push(key + ' ' + block[0], ...block.slice(1));
      else out.push(key + ' ' + scalar(v));
    }
  }
  return out;
}

const RESERVED_KEY = /^(?:true|false|null|yes|no|on|off|y|n|~)$/i;

function yamlKey(k: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(k) && !RESERVED_KEY.test(k) ? k : quote(k);
}

function scalar(v: Plain): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return '[]';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (Number.isNaN(v)) return '.nan';
      if (!Number.isFinite(v)) return v > 0 ? '.inf' : '-.inf';
      return Object.is(v, -0) ? '-0' : String(v);
    case 'string':
      return quote(v);
    default:
      return '{}';
  }
}

// Characters outside YAML's printable set (c-printable), plus BOM, DEL, C1 controls, the
// YAML 1.1 line breaks (NEL, LS, PS) and lone surrogates. \t and \n are handled by
// JSON.stringify already.
// eslint-disable-next-line no-control-regex
const NON_PRINTABLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** A YAML double-quoted scalar. */
export function quote(s: string): string {
  // JSON.stringify escapes " \ and C0 controls with escapes YAML also understands.
  return JSON.stringify(s).replace(NON_PRINTABLE, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/**
 * A `|` block literal for multi-line text, or null when the string is better quoted
 * (single line, leading tab/newline, CR, or non-printable characters).
 * Returns the header (`|-`, `|` or `|+`) followed by the content lines.
 */
function blockLiteral(s: string, ind: number): string[] | null {
  if (!s.includes('\n')) return null;
  if (/^[\t\n]/.test(s) || s.includes('\r')) return null;
  NON_PRINTABLE.lastIndex = 0;
  if (NON_PRINTABLE.test(s)) return null;
  const m = /\n*$/.exec(s)!;
  const trailing = m[0].length;
  const body = s.slice(0, s.length - trailing);
  // leading spaces need an explicit indentation indicator (content sits 2 columns in)
  const chomp = (s.startsWith(' ') ? '|2' : '|') + (trailing === 0 ? '-' : trailing === 1 ? '' : '+');
  const lines = body.split('\n');
  for (let i = 1; i < trailing; i++) lines.push('');
  // empty lines are written as indentation only so the diagnostic block stays indented
  return [chomp, ...lines.map((l) => pad(ind) + l)];
}
