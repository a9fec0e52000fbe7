import { useMemo, useState } from "react";
import { indexSchema, parseSdl, searchSchema } from "../lib/schemaIndex";
import { Empty } from "./States";

export function SchemaReference({ sdl }: { sdl: string | null }) {
  const [term, setTerm] = useState("");
  const parsed = useMemo(() => (sdl ? parseSdl(sdl) : null), [sdl]);
  const types = useMemo(() => (parsed && "schema" in parsed ? indexSchema(parsed.schema) : []), [parsed]);
  const shown = searchSchema(types, term);

  if (!sdl) {
    return (
      <Empty>
        <h2>Schema</h2>
        <p>This version has not been composed yet, so it has no schema to show.</p>
      </Empty>
    );
  }
  if (parsed && "error" in parsed) {
    return (
      <div className="state state-error" role="alert">
        <h2>Schema</h2>
        <p>The product's schema could not be read: {parsed.error}. Tell the product's team.</p>
      </div>
    );
  }
  return (
    <>
      <h2>Schema</h2>
      <label className="schema-search">
        Search types, fields and arguments
        <input type="search" value={term} onChange={(e) => setTerm(e.target.value)} />
      </label>
      <p role="status" aria-live="polite" className="hint">
        {term ? `${shown.length} of ${types.length} types match` : `${types.length} types`}
      </p>
      {shown.length === 0 ? (
        <Empty>
          <p>Nothing in the schema matches “{term}”.</p>
        </Empty>
      ) : (
        <div className="schema">
          {shown.map((type) => (
            <article key={type.name} className="schema-type" aria-labelledby={`type-${type.name}`}>
              <h3 id={`type-${type.name}`}>
                <span className="kind">{type.kind}</span> {type.name}
              </h3>
              {type.description ? <p>{type.description}</p> : null}
              {type.fields.length > 0 ? (
                <ul className="fields">
                  {type.fields.map((field) => (
                    <li key={field.name}>
                      <code>
                        {field.name}
                        {field.args.length > 0
                          ? `(${field.args.map((arg) => `${arg.name}: ${arg.type}`).join(", ")})`
                          : ""}
                        {type.kind === "enum" || type.kind === "union" ? "" : `: ${field.type}`}
                      </code>
                      {field.description ? <span className="field-doc"> — {field.description}</span> : null}
                    </li>
                  ))}
                </ul>
              ) : null}
            </article>
          ))}
        </div>
      )}
    </>
  );
}
