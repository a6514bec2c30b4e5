// Turn arbitrary `expected` / `observed` values into plain JSON-like data
// (objects, arrays, strings, finite-or-not numbers, booleans, null) so that every
// reporter can serialise them without throwing: bigint, Map, Set, Date, Error,
// typed arrays, functions, symbols and cycles are all converted.

export type Plain = null | boolean | number | string | Plain[] | { [k: string]: Plain };

export function toPlain(value: unknown): Plain | undefined {
  return conv(value, new Set());
}

function conv(v: unknown, seen: Set<object>): Plain | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'number':
      return v;
    case 'bigint':
      return v.toString();
    case 'symbol':
      return v.toString();
    case 'function':
      return `[Function ${v.name || 'anonymous'}]`;
  }
  const o = v as object;
  if (seen.has(o)) return '[Circular]';
  if (o instanceof Date) return Number.isNaN(o.getTime()) ? 'Invalid Date' : o.toISOString();
  if (o instanceof RegExp) return o.toString();
  seen.add(o);
  try {
    if (o instanceof Error) {
      const e: { [k: string]: Plain } = { name: o.name, message: o.message };
      const code = (o as { code?: unknown }).code;
      if (code !== undefined) e.code = conv(code, seen) ?? null;
      return e;
    }
    if (Array.isArray(o)) return o.map((x) => conv(x, seen) ?? null);
    if (ArrayBuffer.isView(o)) return Array.from(o as unknown as ArrayLike<number | bigint>, (x) => conv(x, seen) ?? null);
    if (o instanceof Set) return Array.from(o, (x) => conv(x, seen) ?? null);
    if (o instanceof Map) {
      const out: { [k: string]: Plain } = {};
      for (const [k, x] of o) {
        const c = conv(x, seen);
        if (c !== undefined) out[typeof k === 'string' ? k : String(conv(k, seen))] = c;
      }
      return out;
    }
    const toJSON = (o as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return conv(toJSON.call(o), seen);
    const out: { [k: string]: Plain } = {};
    for (const [k, x] of Object.entries(o)) {
      const c = conv(x, seen);
      if (c !== undefined) out[k] = c;
    }
    return out;
  } finally {
    seen.delete(o);
  }
}

/** Render a value for humans: strings verbatim, everything else as indented JSON. */
export function renderValue(v: unknown): string {
  if (typeof v === 'string') return v;
  const p = toPlain(v);
  if (p === undefined) return '';
  return JSON.stringify(p, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x), 2);
}
