// An error beside the field it is about; the field points at it with aria-describedby and says aria-invalid.
import type { ApiError } from "../lib/api";
import { fieldError } from "../lib/fieldErrors";

/** Props for the field an error may be about: spread them on the input. */
export function invalidProps(error: ApiError | null | undefined, field: string, id: string, document?: number) {
  const about = fieldError(error, field, document) !== null;
  return { "aria-invalid": about, "aria-describedby": about ? id : undefined };
}

export function FieldError({
  error,
  field,
  id,
  document,
}: {
  error: ApiError | null | undefined;
  field: string;
  id: string;
  document?: number;
}) {
  const text = fieldError(error, field, document);
  return text ? (
    <p className="field-error" id={id}>
      {text}
    </p>
  ) : null;
}
