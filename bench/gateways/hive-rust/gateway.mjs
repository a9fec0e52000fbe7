// Hive Gateway with the Rust query planner (@graphql-hive/router-runtime), deduplication off.
import { defineConfig } from '@graphql-hive/gateway';
import { unifiedGraphHandler } from '@graphql-hive/router-runtime';

export const gatewayConfig = defineConfig({
  unifiedGraphHandler,
  transportEntries: { '*.http': { options: { deduplicateInflightRequests: false } } },
  logging: 'error',
  graphiql: false,
});
