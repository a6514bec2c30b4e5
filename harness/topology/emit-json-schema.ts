// npm run schema: regenerate topologies/vxlab.schema.json from the one schema, and the compiled predicate
// harness/topology/fast/check.generated.ts (vxlab validate's quick path) from the same schema.
import { writeFileSync } from 'node:fs';
import { jsonSchema, TopologySchema } from './schema.ts';
import { generateChecker } from './fast/gen-check.ts';
const out = new URL('../../topologies/vxlab.schema.json', import.meta.url);
writeFileSync(out, JSON.stringify({ $id: 'https://vxlab.dev/schema/topology-v1.json', ...(jsonSchema() as object) }, null, 2) + '\n');
console.log(`wrote ${out.pathname}`);
const check = new URL('./fast/check.generated.ts', import.meta.url);
writeFileSync(check, generateChecker(TopologySchema));
console.log(`wrote ${check.pathname}`);
