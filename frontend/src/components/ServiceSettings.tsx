// The publish form's editors for what a Service resource says beside its schema and deployments: its entities (how
// the gateway fetches an entity type from a GraphQL or REST service) and its traffic settings (timeouts, retries,
// health checks, outlier detection, circuit breakers). The server validates them; its error shows beside the field.
import type { ApiError } from "../lib/api";
import { changeAt, removeAt } from "../lib/rows";
import { isAbout } from "../lib/fieldErrors";
import { emptyEntity, TRAFFIC_FIELDS, type EntityForm, type TrafficKind } from "../lib/publishing";
import { FieldError, invalidProps } from "./FieldError";

const ENTITY_FIELDS: { key: "type" | "key" | "operation" | "argument"; label: string; placeholder: string }[] = [
  { key: "type", label: "Type", placeholder: "Member" },
  { key: "key", label: "Key field", placeholder: "id" },
  { key: "operation", label: "Operation", placeholder: "member" },
  { key: "argument", label: "Argument (optional)", placeholder: "id" },
];

export function EntityEditor({
  rows,
  onChange,
  error,
}: {
  rows: EntityForm[];
  onChange: (rows: EntityForm[]) => void;
  error: ApiError | null;
}) {
  const edit = (index: number, change: Partial<EntityForm>) => onChange(changeAt(rows, index, change));
  return (
    <fieldset>
      <legend>Entities</legend>
      <p className="hint">
        For a GraphQL or REST service: a type other services' types can extend, fetched by its key with one of this
        service's operations (a Federation subgraph says this with <code>@key</code> instead).
      </p>
      {rows.map((row, index) => {
        const at = `spec.entities.${row.type.trim()}`;
        const id = `entity-${index}-error`;
        return (
          <div key={index} className="source" role="group" aria-label={`Entity ${index + 1}`}>
            <div className="form-inline">
              {ENTITY_FIELDS.map(({ key, label, placeholder }) => (
                <label key={key}>
                  {label}
                  <input
                    value={row[key]}
                    placeholder={placeholder}
                    onChange={(e) => edit(index, { [key]: e.target.value } as Partial<EntityForm>)}
                    {...invalidProps(row.type.trim() ? error : null, key === "type" ? at : `${at}.${key}`, id)}
                  />
                </label>
              ))}
              <label>
                Batched
                <select value={row.batched} onChange={(e) => edit(index, { batched: e.target.value as EntityForm["batched"] })}>
                  <option value="">as the operation says</option>
                  <option value="true">yes: one call for a list of keys</option>
                  <option value="false">no: one call per key</option>
                </select>
              </label>
              <button
                type="button"
                className="danger"
                aria-label={`Remove entity ${index + 1}`}
                onClick={() => onChange(removeAt(rows, index))}
              >
                Remove
              </button>
            </div>
            {row.type.trim() ? <FieldError error={error} field={at} id={id} /> : null}
          </div>
        );
      })}
      <FieldError error={error?.location?.field === "spec.entities" ? error : null} field="spec.entities" id="entities-error" />
      <button type="button" onClick={() => onChange([...rows, emptyEntity()])}>
        Add an entity
      </button>
    </fieldset>
  );
}

const PLACEHOLDER: Record<TrafficKind, string> = {
  duration: "e.g. 250ms, 1s or 2m",
  count: "a whole number",
  percent: "0 to 100",
  path: "/healthz",
  bytes: "e.g. 10485760",
};

/** Per-service overrides of the platform's traffic defaults; a field left empty keeps the default. */
export function TrafficEditor({
  values,
  onChange,
  error,
}: {
  values: Record<string, string>;
  onChange: (values: Record<string, string>) => void;
  error: ApiError | null;
}) {
  const groups = [...new Set(TRAFFIC_FIELDS.map((f) => f.group))];
  const set = Object.values(values).filter((v) => v.trim()).length;
  return (
    <details className="traffic" open={set > 0 || isAbout(error, "spec.traffic")}>
      <summary>
        Traffic settings: timeouts, retries, health checks, outlier detection{set ? ` (${set} set)` : " (the defaults)"}
      </summary>
      <p className="hint">Empty fields keep the platform's defaults. Durations are written like 250ms, 1s or 2m.</p>
      {groups.map((group) => (
        <fieldset key={group}>
          <legend>{group}</legend>
          <div className="form-inline">
            {TRAFFIC_FIELDS.filter((f) => f.group === group).map(({ path, label, kind }) => {
              const field = `spec.traffic.${path}`;
              const id = `traffic-${path.replace(/\./g, "-")}-error`;
              return (
                <div className="field" key={path}>
                  <label>
                    {label}
                    <input
                      value={values[path] ?? ""}
                      placeholder={PLACEHOLDER[kind]}
                      inputMode={kind === "count" || kind === "percent" || kind === "bytes" ? "numeric" : undefined}
                      onChange={(e) => onChange({ ...values, [path]: e.target.value })}
                      {...invalidProps(error, field, id)}
                    />
                  </label>
                  <FieldError error={error} field={field} id={id} />
                </div>
              );
            })}
          </div>
        </fieldset>
      ))}
      <FieldError error={error?.location?.field === "spec.traffic" ? error : null} field="spec.traffic" id="traffic-error" />
    </details>
  );
}
