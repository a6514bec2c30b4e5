// The topology schema (zod) compiled to a plain predicate: harness/topology/fast/check.generated.ts, written by
// `npm run schema` and kept equal to a fresh generation by a unit test (test/unit/fast-validate.test.ts).
// `vxlab validate`'s quick path (harness/cli/fast-validate.ts) uses it so that a good file is accepted without loading
// zod or building the schema (about 180 ms of start-up). It only answers yes or no: every error message still comes
// from zod, on the full path. A zod construct the generator does not know stops the generation (never a guess).
import type * as z from 'zod';

interface Gen {
  fns: string[];
  regexes: string[];
  memo: Map<unknown, string>;
  /** function body → the name it was first emitted under: a schema part used in many places is emitted once */
  bodies: Map<string, string>;
}

function lit(v: unknown): string {
  if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return JSON.stringify(v);
  throw new Error(`gen-check: literal ${String(v)} is not supported`);
}

function regex(g: Gen, r: RegExp): string {
  if (r.global || r.sticky) throw new Error(`gen-check: regex ${r} with g/y flags is not supported`);
  const src = r.toString();
  let i = g.regexes.indexOf(src);
  if (i < 0) i = g.regexes.push(src) - 1;
  return `R${i}`;
}

/** Conditions on v (a string or an array: length; a number: bounds and integer) from a zod type's checks. */
function checks(g: Gen, def: any, v: string): string[] {
  const out: string[] = [];
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    // zod guards its length checks with `when` (the value has a length): always so after the type test before them
    if (d.when && d.check !== 'min_length' && d.check !== 'max_length') throw new Error(`gen-check: conditional check ${d.check} is not supported`);
    switch (d.check) {
      case 'min_length':
        out.push(`${v}.length >= ${d.minimum}`);
        break;
      case 'max_length':
        out.push(`${v}.length <= ${d.maximum}`);
        break;
      case 'greater_than':
        out.push(`${v} ${d.inclusive ? '>=' : '>'} ${lit(d.value)}`);
        break;
      case 'less_than':
        out.push(`${v} ${d.inclusive ? '<=' : '<'} ${lit(d.value)}`);
        break;
      case 'number_format':
        if (d.format !== 'safeint') throw new Error(`gen-check: number format ${d.format} is not supported`);
        out.push(`Number.isSafeInteger(${v})`);
        break;
      case 'string_format':
        if (d.format !== 'regex') throw new Error(`gen-check: string format ${d.format} is not supported`);
        out.push(`${regex(g, d.pattern)}.test(${v})`);
        break;
      default:
        throw new Error(`gen-check: check ${d.check} is not supported`);
    }
  }
  return out;
}

/** The name of a function `(v: any) => boolean` that accepts exactly what the zod type accepts. */
function fn(g: Gen, schema: z.ZodType): string {
  const known = g.memo.get(schema);
  if (known) return known;
  const name = `c${g.memo.size}`;
  g.memo.set(schema, name);
  const def = (schema as any)._zod.def;
  const body: string[] = [];
  const all = (conds: string[]) => body.push(`return ${conds.length ? conds.join(' && ') : 'true'};`);
  switch (def.type) {
    case 'string':
      all(['typeof v === "string"', ...checks(g, def, 'v')]);
      break;
    case 'number':
      all(['typeof v === "number"', 'Number.isFinite(v)', ...checks(g, def, 'v')]);
      break;
    case 'boolean':
      if (def.checks?.length) throw new Error('gen-check: checks on a boolean are not supported');
      all(['typeof v === "boolean"']);
      break;
    case 'unknown':
      all([]);
      break;
    case 'literal':
      all([`(${def.values.map((x: unknown) => `v === ${lit(x)}`).join(' || ')})`]);
      break;
    case 'enum':
      all([`(${Object.values(def.entries).map((x) => `v === ${lit(x)}`).join(' || ')})`]);
      break;
    case 'optional':
      all([`(v === undefined || ${fn(g, def.innerType)}(v))`]);
      break;
    case 'array':
      body.push(`if (!Array.isArray(v)${checks(g, def, 'v').map((c) => ` || !(${c})`).join('')}) return false;`);
      body.push(`for (let i = 0; i < v.length; i++) if (!${fn(g, def.element)}(v[i])) return false;`);
      body.push('return true;');
      break;
    case 'union': // a discriminated union accepts what one of its options accepts, as a plain union does
      if (def.checks?.length) throw new Error('gen-check: checks on a union are not supported');
      all([`(${def.options.map((o: z.ZodType) => `${fn(g, o)}(v)`).join(' || ')})`]);
      break;
    case 'record': {
      const kd = def.keyType._zod.def;
      if (kd.type !== 'string' || kd.checks?.length) throw new Error('gen-check: only records with plain string keys are supported');
      body.push('if (typeof v !== "object" || v === null || Array.isArray(v)) return false;');
      body.push(`for (const k of Object.keys(v)) if (!${fn(g, def.valueType)}(v[k])) return false;`);
      body.push('return true;');
      break;
    }
    case 'object': {
      const strict = def.catchall?._zod.def.type === 'never';
      if (!strict || def.checks?.length) throw new Error('gen-check: only strict objects without refinements are supported');
      const keys = Object.keys(def.shape);
      body.push('if (typeof v !== "object" || v === null || Array.isArray(v)) return false;');
      body.push(`for (const k of Object.keys(v)) switch (k) { ${keys.map((k) => `case ${lit(k)}: `).join('')}break; default: return false; }`);
      for (const k of keys) body.push(`if (!${fn(g, def.shape[k])}(v[${lit(k)}])) return false;`);
      body.push('return true;');
      break;
    }
    default:
      throw new Error(`gen-check: zod type ${def.type} is not supported`);
  }
  // the schema has no recursion (z.lazy is not supported above), so no emitted body refers to `name` yet and an
  // identical earlier function can stand in for it
  const text = body.join('\n  ');
  const same = g.bodies.get(text);
  if (same) {
    g.memo.set(schema, same);
    return same;
  }
  g.bodies.set(text, name);
  g.fns.push(`function ${name}(v: any): boolean {\n  ${text}\n}`);
  return name;
}

/** TypeScript source of check.generated.ts for a schema. */
export function generateChecker(schema: z.ZodType): string {
  const g: Gen = { fns: [], regexes: [], memo: new Map(), bodies: new Map() };
  const root = fn(g, schema);
  return [
    '// GENERATED by harness/topology/fast/gen-check.ts from harness/topology/schema.ts (`npm run schema`); do not edit.',
    '// Accepts exactly what TopologySchema accepts (test/unit/fast-validate.test.ts); errors come from zod, never from here.',
    '/* eslint-disable */',
    ...g.regexes.map((r, i) => `const R${i} = ${r};`),
    ...g.fns,
    `/** true when TopologySchema.safeParse(v) succeeds */`,
    `export function checkTopology(v: unknown): boolean {\n  return ${root}(v);\n}`,
    '',
  ].join('\n');
}
