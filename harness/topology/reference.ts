// Renders the topology reference (README) from the one schema: every key, its type and its description.
import { jsonSchema } from './schema.ts';

type JS = Record<string, any>;

function typeOf(s: JS): string {
  if (s.enum) return s.enum.map((v: unknown) => JSON.stringify(v)).join(' \\| ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.anyOf || s.oneOf) return (s.anyOf ?? s.oneOf).map(typeOf).join(' \\| ');
  if (s.type === 'array') return `list of ${typeOf(s.items ?? {})}`;
  if (s.type === 'object' && !s.properties) return 'map';
  if (s.type === 'integer' || s.type === 'number') {
    const lo = s.minimum ?? s.exclusiveMinimum;
    const hi = s.maximum ?? s.exclusiveMaximum;
    return `${s.type}${lo !== undefined || hi !== undefined ? ` ${lo ?? ''}–${hi ?? ''}` : ''}`;
  }
  return s.type ?? 'object';
}

function walk(s: JS, path: string, rows: string[][], required: string[] = []): void {
  for (const [k, v] of Object.entries<JS>(s.properties ?? {})) {
    const p = path ? `${path}.${k}` : k;
    const inner = v.type === 'array' && v.items?.properties ? v.items : v;
    const type = v.type === 'array' && (v.items?.oneOf || v.items?.anyOf) ? 'list of faults (below)' : typeOf(v);
    rows.push([`\`${p}${v.type === 'array' && v.items?.properties ? '[]' : ''}\``, type.replace(/list of object/, 'list'), required.includes(k) ? 'yes' : '', (v.description ?? inner.description ?? '').replace(/\|/g, '\\|')]);
    if (inner.properties) walk(inner, `${p}${inner === v ? '' : '[]'}`, rows, inner.required ?? []);
  }
}

export function renderReference(): string {
  const root = jsonSchema() as JS;
  const rows: string[][] = [];
  walk(root, '', rows, root.required ?? []);
  const faults = (root.properties.faults.items.oneOf ?? root.properties.faults.items.anyOf) as JS[];
  const lines = ['| key | type | required | meaning |', '|---|---|---|---|', ...rows.filter((r) => !r[0]!.startsWith('`faults[].')).map((r) => `| ${r.join(' | ')} |`)];
  lines.push('', 'Fault kinds (`faults[]`, applied after `up` in order; all live inside the run\'s namespaces, so `down` undoes them):', '', '| kind | fields |', '|---|---|');
  for (const f of faults) {
    const kind = f.properties.kind.const;
    const fields = Object.keys(f.properties).filter((k) => k !== 'kind').map((k) => `\`${k}\``).join(', ');
    lines.push(`| \`${kind}\` | ${fields} |`);
  }
  return lines.join('\n') + '\n';
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) process.stdout.write(renderReference());
