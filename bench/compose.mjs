// Compose the benchmark subgraphs into a Federation v2 supergraph with Apollo's own composition, so every
// gateway (Loom included) serves the very same supergraph SDL. Usage: node compose.mjs BASE_PORT OUT_FILE
import { readFileSync, writeFileSync } from 'node:fs';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';

const base = parseInt(process.argv[2] ?? '4101', 10);
const names = ['accounts', 'products', 'inventory', 'reviews'];
const services = names.map((name, i) => ({
  name,
  url: `http://127.0.0.1:${base + i}/graphql`,
  typeDefs: parse(readFileSync(new URL(`./schemas/${name}.graphql`, import.meta.url), 'utf8')),
}));
const result = composeServices(services);
if (result.errors) {
  for (const e of result.errors) console.error(e.message);
  process.exit(1);
}
writeFileSync(process.argv[3] ?? 'supergraph.graphql', result.supergraphSdl);
