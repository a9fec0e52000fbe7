// Hive Gateway (default JS runtime), in-flight deduplication off as on every gateway in this benchmark.
import { defineConfig } from '@graphql-hive/gateway';

export const gatewayConfig = defineConfig({
  transportEntries: { '*.http': { options: { deduplicateInflightRequests: false } } },
  logging: 'error',
  graphiql: false,
});
