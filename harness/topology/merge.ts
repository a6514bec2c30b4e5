// `extends`: merging a topology onto the one it extends, recording where every path came from (for file:line:col).
// Shared by the loader (load.ts) and `vxlab validate`'s quick path (harness/cli/fast-validate.ts), which must not load
// yaml or zod.
import { pathKey, type Path } from './errors.ts';

/** For every path in the merged object: which source (file), and which path inside that file's document. */
export type Origins<S> = Map<string, { src: S; path: Path }>;

const NAMED_LISTS = new Set(['nodes', 'segments', 'checks']);
const REPLACED_KEYS = new Set(['expect', 'faults', 'steps']);

export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function recordOrigins<S>(v: unknown, path: Path, src: S, srcPath: Path, origins: Origins<S>): void {
  origins.set(pathKey(path), { src, path: srcPath });
  if (Array.isArray(v)) v.forEach((x, i) => recordOrigins(x, [...path, i], src, [...srcPath, i], origins));
  else if (isObj(v)) for (const [k, x] of Object.entries(v)) recordOrigins(x, [...path, k], src, [...srcPath, k], origins);
}

/** Merge `over` onto `base`: maps merge, lists of named things merge by name, everything else is replaced. */
export function merge<S>(base: unknown, over: unknown, path: Path, src: S, srcPath: Path, origins: Origins<S>): unknown {
  if (isObj(base) && isObj(over)) {
    const out: Record<string, unknown> = { ...base };
    origins.set(pathKey(path), { src, path: srcPath });
    for (const [k, v] of Object.entries(over)) {
      // a child's expectations describe its own outcome: they replace the parent's instead of merging
      if (path.length === 0 && REPLACED_KEYS.has(k)) {
        out[k] = v;
        recordOrigins(v, [k], src, [...srcPath, k], origins);
        continue;
      }
      out[k] = k in base ? merge(base[k], v, [...path, k], src, [...srcPath, k], origins) : v;
      if (!(k in base)) recordOrigins(v, [...path, k], src, [...srcPath, k], origins);
    }
    return out;
  }
  const last = path[path.length - 1];
  if (Array.isArray(base) && Array.isArray(over) && typeof last === 'string' && NAMED_LISTS.has(last)) {
    const out = [...base];
    over.forEach((item, j) => {
      const idx = isObj(item) ? out.findIndex((b) => isObj(b) && b.name === item.name) : -1;
      if (idx >= 0) out[idx] = merge(out[idx], item, [...path, idx], src, [...srcPath, j], origins);
      else {
        out.push(item);
        recordOrigins(item, [...path, out.length - 1], src, [...srcPath, j], origins);
      }
    });
    return out;
  }
  recordOrigins(over, path, src, srcPath, origins);
  return over;
}
