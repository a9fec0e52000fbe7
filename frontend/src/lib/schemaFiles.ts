// A schema uploaded as several files (a folder, or a .zip): which one is the main document, and the others as the
// `files` of the Service's inline schema, keyed by their path relative to the main document's folder (as `$ref`
// names them).

export interface SchemaUpload {
  main: string; // the main document's path in the upload
  text: string;
  files: Record<string, string>; // relative to the main document's folder
}

const MAIN_NAMES = /(^|\/)(openapi|swagger|api|schema)\.(ya?ml|json|graphqls?)$/i;

function folderOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "" : path.slice(0, slash + 1);
}

/** The upload's likely main document: one named openapi/swagger/api/schema, else one that declares `openapi:` or
 * `swagger:`, the shallowest first. */
export function guessMain(all: Record<string, string>): string | null {
  const paths = Object.keys(all).sort((a, b) => a.split("/").length - b.split("/").length || a.localeCompare(b));
  return (
    paths.find((p) => MAIN_NAMES.test(p)) ??
    paths.find((p) => /^\s*["']?(openapi|swagger)["']?\s*:/m.test(all[p] ?? "")) ??
    paths[0] ??
    null
  );
}

/** The upload with `main` as its main document; the files outside its folder cannot be `$ref`ed relatively and are
 * left out, as are hidden files (`.DS_Store`, `__MACOSX/`). */
export function uploadOf(all: Record<string, string>, main: string): SchemaUpload {
  const base = folderOf(main);
  const files: Record<string, string> = {};
  for (const [path, content] of Object.entries(all)) {
    if (path === main || !path.startsWith(base)) continue;
    const relative = path.slice(base.length);
    if (relative.split("/").some((part) => part.startsWith(".") || part === "__MACOSX")) continue;
    files[relative] = content;
  }
  return { main, text: all[main] ?? "", files };
}
