// The composer's editors for how a product stitches its sources: renames by pattern (per source), `prefer` (which
// service's definition of a shared type wins) and links (a field resolved by another service's operation). Each
// field says aria-invalid and shows the API's error beside it, from the error's location.
import type { ApiError } from "../lib/api";
import { changeAt, removeAt } from "../lib/rows";
import { emptyLink, linkOf, type LinkForm, type PatternRow, type PreferRow } from "../lib/composer";
import { linkText } from "../lib/stitching";
import { FieldError, invalidProps } from "./FieldError";

/** Rows of `pattern` → `replacement` (regular expressions matching a whole name); `field` is where apply's error
 * about them points (`spec.sources[1].typePatterns`). */
export function PatternEditor({
  what,
  rows,
  onChange,
  error,
  field,
  id,
}: {
  what: string; // "type pattern of members"
  rows: PatternRow[];
  onChange: (rows: PatternRow[]) => void;
  error: ApiError | null;
  field: string;
  id: string;
}) {
  const edit = (index: number, change: Partial<PatternRow>) => onChange(changeAt(rows, index, change));
  return (
    <div className="pattern-rows">
      {rows.map((row, index) => (
        <div key={index} className="form-inline">
          <label>
            {`Pattern ${index + 1} (${what})`}
            <input
              value={row.pattern}
              placeholder="(.*)"
              onChange={(e) => edit(index, { pattern: e.target.value })}
              {...invalidProps(error, field, `${id}-error`)}
            />
          </label>
          <label>
            {`Becomes (${what} ${index + 1})`}
            <input
              value={row.replacement}
              placeholder="prefix_\1"
              onChange={(e) => edit(index, { replacement: e.target.value })}
              {...invalidProps(error, field, `${id}-error`)}
            />
          </label>
          <button
            type="button"
            className="danger"
            aria-label={`Remove ${what} ${index + 1}`}
            onClick={() => onChange(removeAt(rows, index))}
          >
            Remove
          </button>
        </div>
      ))}
      <button type="button" onClick={() => onChange([...rows, { pattern: "", replacement: "" }])}>
        Add a {what}
      </button>
      <FieldError error={error} field={field} id={`${id}-error`} />
    </div>
  );
}

/** `prefer`: for each type several sources define, the source whose definition the product keeps. */
export function PreferEditor({
  rows,
  services,
  onChange,
  error,
}: {
  rows: PreferRow[];
  services: string[];
  onChange: (rows: PreferRow[]) => void;
  error: ApiError | null;
}) {
  const edit = (index: number, change: Partial<PreferRow>) => onChange(changeAt(rows, index, change));
  return (
    <fieldset>
      <legend>Shared types: whose definition wins</legend>
      <p className="hint">
        When services define the same type differently, name the type (as the product calls it) and the service whose
        definition the product keeps.
      </p>
      {rows.map((row, index) => {
        const field = `spec.prefer.${row.type.trim()}`;
        const id = `prefer-${index}-error`;
        return (
          <div key={index}>
            <div className="form-inline">
              <label>
                {`Shared type ${index + 1}`}
                <input value={row.type} onChange={(e) => edit(index, { type: e.target.value })} {...invalidProps(error, field, id)} />
              </label>
              <label>
                {`Definition from (shared type ${index + 1})`}
                <select value={row.service} onChange={(e) => edit(index, { service: e.target.value })} {...invalidProps(error, field, id)}>
                  {row.service && !services.includes(row.service) ? <option>{row.service}</option> : null}
                  {services.map((s) => (
                    <option key={s}>{s}</option>
                  ))}
                </select>
              </label>
              <button
                type="button"
                className="danger"
                aria-label={`Remove shared type ${index + 1}`}
                onClick={() => onChange(removeAt(rows, index))}
              >
                Remove
              </button>
            </div>
            {row.type.trim() ? <FieldError error={error} field={field} id={id} /> : null}
          </div>
        );
      })}
      <button type="button" disabled={services.length === 0} onClick={() => onChange([...rows, { type: "", service: services[0] ?? "" }])}>
        Add a shared type
      </button>
    </fieldset>
  );
}

const LINK_FIELDS: { key: keyof LinkForm; label: string; hint?: string }[] = [
  { key: "type", label: "Type" },
  { key: "field", label: "New field" },
  { key: "operation", label: "Operation" },
  { key: "arguments", label: "Arguments (argument=field of the type, comma-separated)" },
  { key: "returns", label: "Returns (optional)" },
  { key: "description", label: "Description (optional)" },
];

/** Links: `Loan.member` resolved by `member(id: <the loan's memberId>)` of the members service. */
export function LinkEditor({
  links,
  services,
  onChange,
  error,
}: {
  links: LinkForm[];
  services: string[];
  onChange: (links: LinkForm[]) => void;
  error: ApiError | null;
}) {
  const edit = (index: number, change: Partial<LinkForm>) => onChange(changeAt(links, index, change));
  return (
    <fieldset>
      <legend>Links between services</legend>
      <p className="hint">
        Add a field to a type, resolved by another service's query with values of the object it is on (names as the
        product calls them).
      </p>
      {links.map((link, index) => {
        const at = `spec.links[${index}]`;
        const complete = link.type && link.field && link.service && link.operation;
        return (
          <fieldset key={index} className="link-row">
            <legend>{`Link ${index + 1}`}</legend>
            <div className="form-inline">
              {LINK_FIELDS.slice(0, 2).map(({ key, label }) => (
                <label key={key}>
                  {label}
                  <input value={link[key]} onChange={(e) => edit(index, { [key]: e.target.value } as Partial<LinkForm>)} {...invalidProps(error, `${at}.${key}`, `link-${index}-error`)} />
                </label>
              ))}
              <label>
                Service
                <select value={link.service} onChange={(e) => edit(index, { service: e.target.value })} {...invalidProps(error, `${at}.service`, `link-${index}-error`)}>
                  {link.service && !services.includes(link.service) ? <option>{link.service}</option> : null}
                  {services.map((s) => (
                    <option key={s}>{s}</option>
                  ))}
                </select>
              </label>
              {LINK_FIELDS.slice(2).map(({ key, label }) => (
                <label key={key}>
                  {label}
                  <input value={link[key]} onChange={(e) => edit(index, { [key]: e.target.value } as Partial<LinkForm>)} {...invalidProps(error, `${at}.${key}`, `link-${index}-error`)} />
                </label>
              ))}
              <button type="button" className="danger" aria-label={`Remove link ${index + 1}`} onClick={() => onChange(removeAt(links, index))}>
                Remove
              </button>
            </div>
            {complete ? <p className="hint">{linkText(linkOf(link))}</p> : null}
            <FieldError error={error} field={at} id={`link-${index}-error`} />
          </fieldset>
        );
      })}
      <button type="button" disabled={services.length === 0} onClick={() => onChange([...links, { ...emptyLink(), service: services[0] ?? "" }])}>
        Add a link
      </button>
    </fieldset>
  );
}
