import type { CodegenConfig } from "@graphql-codegen/cli";

// Typed operations from the committed SDL of the admin API: every `graphql(...)` document in src/ is checked
// against schema.graphql and gets its result and variables types. documentMode "string" keeps the runtime to a
// plain string (no GraphQL AST or client library shipped to the browser).
const config: CodegenConfig = {
  schema: "schema.graphql",
  documents: ["src/**/*.{ts,tsx}", "!src/gql/**"],
  ignoreNoDocuments: false,
  generates: {
    "src/gql/": {
      preset: "client",
      config: {
        documentMode: "string",
        enumsAsTypes: true,
        useTypeImports: true,
        strictScalars: true,
        scalars: { DateTime: "string", JSON: "unknown" },
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
