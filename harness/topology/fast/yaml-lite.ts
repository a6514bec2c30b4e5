// A small YAML reader for `vxlab validate`'s quick path (harness/cli/fast-validate.ts): the subset topology files are
// written in — block mappings and sequences, single-line plain and quoted scalars, flow collections ([…], {…}, JSON)
// possibly over several lines, comments — without loading the `yaml` package (~70 ms of start-up).
// It either returns exactly what `yaml` (parseDocument(text, { uniqueKeys: true }).toJS()) returns for the text, or
// undefined: "not sure", and the caller takes the full path (yaml + zod), which also writes every error message.
// Anything outside the subset is "not sure": anchors, aliases, tags, block scalars, multi-line plain or quoted
// scalars, documents markers, directives, tabs, duplicate keys, plain scalars that YAML might read as a number in
// another form (0x1f, 1e3, +1, 012, .inf), keys that are not plain strings. A differential test against `yaml`
// (test/unit/fast-validate.test.ts) keeps the two in agreement.

class NotSure extends Error {}
const notSure = (): never => {
  throw new NotSure();
};

/** Plain scalars of the core schema that we resolve ourselves; other number-like forms are "not sure". */
const NULL_RE = /^(?:~|null|Null|NULL)$/;
const TRUE_RE = /^(?:true|True|TRUE)$/;
const FALSE_RE = /^(?:false|False|FALSE)$/;
const NUM_RE = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$/;
const MINUS_ZERO_RE = /^-0(?:\.0*)?$/;
const NUMBERISH_RE = /^[-+]?(?:\.[0-9]|[0-9]|\.(?:inf|Inf|INF|nan|NaN|NAN)$)/;
/** A plain key we accept in block mappings (a string under the core schema once NUMBERISH_RE is excluded). */
const KEY_RE = /^[A-Za-z_][A-Za-z0-9_.\/-]*$|^[0-9][A-Za-z0-9_.\/-]*[A-Za-z_\/-][A-Za-z0-9_.\/-]*$/;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function resolvePlain(s: string): unknown {
  if (NULL_RE.test(s)) return null;
  if (TRUE_RE.test(s)) return true;
  if (FALSE_RE.test(s)) return false;
  if (NUM_RE.test(s) && !MINUS_ZERO_RE.test(s)) return Number(s);
  if (NUMBERISH_RE.test(s)) {
    // number-like but not in the forms above: a string only if YAML would not read it as a number
    if (/^[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?$/.test(s) || /^0[xXoObB]/.test(s) || /^[-+]?\.[A-Za-z]+$/.test(s)) notSure();
  }
  return s;
}

function keyOf(v: unknown, quoted: boolean): string {
  if (!quoted && (typeof v !== 'string' || !KEY_RE.test(v))) notSure();
  const k = v as string;
  if (FORBIDDEN_KEYS.has(k)) notSure();
  return k;
}

function setKey(o: Record<string, unknown>, k: string, v: unknown): void {
  if (Object.prototype.hasOwnProperty.call(o, k)) notSure(); // duplicate: yaml's uniqueKeys error
  o[k] = v;
}

const ESCAPES: Record<string, string> = { '\\': '\\', '"': '"', '/': '/', n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' };

class Reader {
  readonly t: string;
  p = 0;
  constructor(t: string) {
    this.t = t;
  }

  /** Column of position p (0-based) and the indentation of its line. */
  lineStart(p: number): number {
    return this.t.lastIndexOf('\n', p - 1) + 1;
  }

  /** A quoted scalar starting at p (at the quote); single line only. */
  quoted(): string {
    const t = this.t;
    const q = t[this.p]!;
    let out = '';
    let i = this.p + 1;
    for (;;) {
      const c = t[i];
      if (c === undefined || c === '\n') notSure();
      if (q === "'") {
        if (c === "'") {
          if (t[i + 1] === "'") {
            out += "'";
            i += 2;
            continue;
          }
          break;
        }
      } else if (c === '"') break;
      else if (c === '\\') {
        const e = t[i + 1]!;
        if (e === 'u') {
          const h = t.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(h)) notSure();
          const code = parseInt(h, 16);
          if (code >= 0xd800 && code <= 0xdfff) notSure(); // surrogates: leave pairing to yaml
          out += String.fromCharCode(code);
          i += 6;
          continue;
        }
        const r = ESCAPES[e];
        if (r === undefined) notSure();
        out += r;
        i += 2;
        continue;
      }
      out += c;
      i++;
    }
    this.p = i + 1;
    return out;
  }

  /** Skip spaces, newlines and comments inside a flow collection. The block indentation `min`: every new line's
   * content must be indented more than it. */
  flowSpace(min: number): void {
    const t = this.t;
    for (;;) {
      const c = t[this.p];
      if (c === ' ') this.p++;
      else if (c === '\n') {
        this.p++;
        let n = 0;
        while (t[this.p + n] === ' ') n++;
        const next = t[this.p + n];
        if (next !== '\n' && next !== '#' && next !== undefined && n <= min) notSure();
        if (next === '#' && n <= min) notSure();
      } else if (c === '#') {
        // a comment needs whitespace before it
        const prev = t[this.p - 1];
        if (prev !== ' ' && prev !== '\n' && prev !== undefined) notSure();
        const e = t.indexOf('\n', this.p);
        this.p = e < 0 ? t.length : e;
      } else return;
    }
  }

  /** A value inside a flow collection. */
  flowValue(min: number): unknown {
    const t = this.t;
    const c = t[this.p];
    if (c === '[') return this.flowSeq(min);
    if (c === '{') return this.flowMap(min);
    if (c === '"' || c === "'") return this.quoted();
    return resolvePlain(this.flowPlain());
  }

  /** A plain scalar in a flow collection, on one line: up to , ] } or ': ' or ' #' or the end of the line. */
  flowPlain(): string {
    const t = this.t;
    const start = this.p;
    const c0 = t[start];
    if (c0 === undefined || '-?:,[]{}#&*!|>\'"%@`\n '.includes(c0)) {
      // '-' may start a plain scalar (-5, --flag) when a non-space follows
      if (!(c0 === '-' && t[start + 1] !== undefined && !' \n,[]{}'.includes(t[start + 1]!))) notSure();
    }
    let i = start;
    for (;;) {
      const c = t[i];
      if (c === undefined || c === '\n' || c === ',' || c === ']' || c === '}' || c === '[' || c === '{') break;
      if (c === ':' && (t[i + 1] === ' ' || t[i + 1] === '\n' || t[i + 1] === ',' || t[i + 1] === ']' || t[i + 1] === '}' || t[i + 1] === undefined)) break;
      if (c === '#' && t[i - 1] === ' ') break;
      i++;
    }
    if (t[i] === '[' || t[i] === '{') notSure();
    const s = t.slice(start, i).replace(/ +$/, '');
    if (!s) notSure();
    this.p = start + s.length;
    return s;
  }

  flowSeq(min: number): unknown[] {
    this.p++; // [
    const out: unknown[] = [];
    this.flowSpace(min);
    if (this.t[this.p] === ']') {
      this.p++;
      return out;
    }
    for (;;) {
      this.flowSpace(min);
      out.push(this.flowValue(min));
      this.flowSpace(min);
      const c = this.t[this.p];
      if (c === ',') {
        this.p++;
        this.flowSpace(min);
        if (this.t[this.p] === ']') notSure(); // trailing comma
        continue;
      }
      if (c === ']') {
        this.p++;
        return out;
      }
      return notSure(); // ':' (a pair in a sequence) or anything else
    }
  }

  flowMap(min: number): Record<string, unknown> {
    this.p++; // {
    const out: Record<string, unknown> = {};
    this.flowSpace(min);
    if (this.t[this.p] === '}') {
      this.p++;
      return out;
    }
    for (;;) {
      this.flowSpace(min);
      const c = this.t[this.p];
      const quoted = c === '"' || c === "'";
      if (c === '[' || c === '{') notSure();
      const k = keyOf(quoted ? this.quoted() : resolvePlain(this.flowPlain()), quoted);
      if (!quoted && this.t[this.p] === ' ') this.flowSpace(min);
      if (this.t[this.p] !== ':') notSure(); // a key without a value
      this.p++;
      // after a plain key ':' must be followed by a space; after a quoted one it may be adjacent (JSON)
      if (!quoted && this.t[this.p] !== ' ' && this.t[this.p] !== '\n') notSure();
      this.flowSpace(min);
      const n = this.t[this.p];
      if (n === ',' || n === '}') notSure(); // an empty value
      setKey(out, k, this.flowValue(min));
      this.flowSpace(min);
      const e = this.t[this.p];
      if (e === ',') {
        this.p++;
        this.flowSpace(min);
        if (this.t[this.p] === '}') notSure();
        continue;
      }
      if (e === '}') {
        this.p++;
        return out;
      }
      return notSure();
    }
  }
}

interface Line {
  /** indentation (spaces) */
  n: number;
  /** offset of the first character after the indentation */
  at: number;
  /** offset of the end of the line (before '\n') */
  end: number;
}

/**
 * Parse `text` as YAML if it is within the subset; undefined when not sure (the caller then uses the yaml package).
 * A document that is not a mapping is "not sure" too (the full path says what is wrong with it).
 */
export function parseLite(text: string): Record<string, unknown> | undefined {
  // tabs, CR, BOM, control characters, directives and document markers: the full path
  if (/[\t\r\uFEFF\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f\u2028\u2029]/.test(text)) return undefined;
  if (/^(?:---|\.\.\.|%)/m.test(text)) return undefined;
  try {
    const v = new Doc(text).parse();
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch (e) {
    if (e instanceof NotSure) return undefined;
    throw e;
  }
}

class Doc {
  readonly r: Reader;
  readonly lines: Line[] = [];
  i = 0;

  constructor(text: string) {
    this.r = new Reader(text);
    let at = 0;
    while (at <= text.length) {
      let e = text.indexOf('\n', at);
      if (e < 0) e = text.length;
      let n = 0;
      while (text[at + n] === ' ') n++;
      const c = text[at + n];
      // blank and comment-only lines carry no structure
      if (at + n < e && c !== '#') this.lines.push({ n, at: at + n, end: e });
      at = e + 1;
    }
  }

  parse(): unknown {
    if (!this.lines.length) notSure();
    const first = this.lines[0]!;
    const t = this.r.t;
    let v: unknown;
    if (t[first.at] === '{' || t[first.at] === '[') {
      // a flow document (JSON): the whole text
      this.r.p = first.at;
      v = this.r.flowValue(-1);
      this.r.flowSpace(-1);
      if (this.r.p < t.length) notSure();
      return v;
    }
    if (first.n !== 0) notSure();
    v = this.block(0);
    if (this.i < this.lines.length) notSure(); // a line less indented than where it stands
    return v;
  }

  /** The block node whose first line is lines[i], at indentation n. */
  block(n: number): unknown {
    const l = this.lines[this.i]!;
    if (l.n !== n) notSure();
    const t = this.r.t;
    if (t[l.at] === '-' && (t[l.at + 1] === ' ' || l.at + 1 === l.end)) return this.seq(n);
    if (this.keyAt(l) !== undefined) return this.map(n);
    notSure(); // a scalar on its own line (multi-line scalars are not in the subset)
  }

  /** If line l is `key:` or `key: …`: the key and where its value starts; undefined otherwise. */
  keyAt(l: Line): { key: string; after: number } | undefined {
    const t = this.r.t;
    const c = t[l.at];
    let key: string;
    let p: number;
    if (c === '"' || c === "'") {
      this.r.p = l.at;
      const q = this.r.quoted();
      p = this.r.p;
      while (t[p] === ' ') p++;
      if (t[p] !== ':') return undefined; // a quoted scalar, not a key
      key = keyOf(q, true);
    } else {
      let j = l.at;
      while (j < l.end && !(t[j] === ':' && (t[j + 1] === ' ' || j + 1 === l.end))) j++;
      if (j >= l.end) return undefined;
      const raw = t.slice(l.at, j).replace(/ +$/, '');
      if (raw.includes(' #') || raw.startsWith('#')) return undefined;
      key = keyOf(resolvePlain(raw), false);
      p = j;
    }
    if (t[p] !== ':' || !(t[p + 1] === ' ' || p + 1 === l.end)) notSure();
    return { key, after: p + 1 };
  }

  map(n: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    while (this.i < this.lines.length) {
      const l = this.lines[this.i]!;
      if (l.n < n) break;
      if (l.n > n) notSure();
      const k = this.keyAt(l);
      if (!k) notSure();
      setKey(out, k!.key, this.value(l, k!.after, n, true));
    }
    return out;
  }

  seq(n: number): unknown[] {
    const out: unknown[] = [];
    const t = this.r.t;
    while (this.i < this.lines.length) {
      const l = this.lines[this.i]!;
      if (l.n < n) break;
      if (l.n > n) notSure();
      if (!(t[l.at] === '-' && (t[l.at + 1] === ' ' || l.at + 1 === l.end))) break; // the parent map's next key
      let p = l.at + 1;
      while (t[p] === ' ') p++;
      if (p >= l.end || t[p] === '#') {
        out.push(this.value(l, p, n, false));
        continue;
      }
      if (t[p] === '-' && (t[p + 1] === ' ' || p + 1 === l.end)) notSure(); // - - nested: not in the subset
      // `- key: …`: a mapping whose keys stand at this column
      const inner: Line = { n: p - this.r.lineStart(p), at: p, end: l.end };
      if (t[p] !== '[' && t[p] !== '{' && this.keyAt(inner)) {
        this.lines[this.i] = inner;
        out.push(this.map(inner.n));
        continue;
      }
      out.push(this.value(l, p, n, false));
    }
    return out;
  }

  /** The value of a `key:` (inMap) or `- ` at line l, starting at offset p; advances past it. */
  value(l: Line, p: number, n: number, inMap: boolean): unknown {
    const t = this.r.t;
    while (t[p] === ' ') p++;
    if (p >= l.end || t[p] === '#') {
      if (t[p] === '#' && t[p - 1] !== ' ') notSure();
      // the value is on the next lines: more indented, or a sequence at the same indentation (a map's value)
      this.i++;
      const next = this.lines[this.i];
      if (!next || next.n < n) return null;
      if (next.n > n) return this.block(next.n);
      if (inMap && t[next.at] === '-' && (t[next.at + 1] === ' ' || next.at + 1 === next.end)) return this.seq(n);
      return null;
    }
    const c = t[p];
    let v: unknown;
    let e: number;
    if (c === '[' || c === '{') {
      this.r.p = p;
      v = this.r.flowValue(n);
      e = this.r.p;
    } else if (c === '"' || c === "'") {
      this.r.p = p;
      v = this.r.quoted();
      e = this.r.p;
    } else {
      // a plain scalar up to a comment or the end of the line
      if ('-?:,[]{}#&*!|>\'"%@`'.includes(c!) && !(c === '-' && t[p + 1] !== ' ' && p + 1 < l.end)) notSure();
      let j = p;
      while (j < l.end && !(t[j] === '#' && t[j - 1] === ' ')) j++;
      const s = t.slice(p, j).replace(/ +$/, '');
      if (s.includes(': ') || s.endsWith(':')) notSure(); // a nested mapping on one line
      v = resolvePlain(s);
      e = p + s.length;
    }
    // the rest of the line (of the line where the value ended) holds nothing but a comment
    let lineEnd = t.indexOf('\n', e);
    if (lineEnd < 0) lineEnd = t.length;
    let q = e;
    while (t[q] === ' ') q++;
    if (q < lineEnd && !(t[q] === '#' && q > e)) notSure();
    // skip the lines the value spanned (a flow collection over several lines)
    this.i++;
    while (this.i < this.lines.length && this.lines[this.i]!.at < lineEnd) this.i++;
    const next = this.lines[this.i];
    // a more indented line after a complete value: a continuation YAML would read differently
    if (next && next.n > n) notSure();
    return v;
  }
}
