// npm run schema: regenerate topologies/vxlab.schema.json from the one schema.
import { writeFileSync } from 'node:fs';
import { jsonSchema } from './schema.ts';
const out = new URL('../../topologies/vxlab.schema.json', import.meta.url);
writeFileSync(out, JSON.stringify({ $id: 'https://vxlab.dev/schema/topology-v1.json', ...(jsonSchema() as object) }, null, 2) + '\n');
console.log(`wrote ${out.pathname}`);
