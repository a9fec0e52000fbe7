// The GraphQL-over-HTTP conformance audit (graphql-http's auditServer) against one URL, as JSON on stdout:
// [{"id", "name", "status", "reason"?, "responseStatus"?}, ...]. The tests in tests/*/test_graphql_http.py run it
// against Loom's gateway and the portal's admin API. Usage: node bench/graphql_http_audit.mjs URL
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node graphql_http_audit.mjs URL (the GraphQL endpoint to audit)');
  process.exit(2);
}

const results = await auditServer({ url });
const summary = results.map((result) => {
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    entry.reason = result.reason;
    entry.responseStatus = result.response.status;
  }
  return entry;
});
process.stdout.write(`${JSON.stringify(summary)}\n`);
