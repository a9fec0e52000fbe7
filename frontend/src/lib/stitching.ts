// How a product version stitches its sources, said in words a consumer or an owner reads on the product page:
// renames by pattern, which service's definition of a shared type wins, and links between services.

export interface Pattern {
  pattern: string;
  replacement: string;
}

export interface LinkArgument {
  argument: string;
  from: string;
}

export interface Link {
  type: string;
  field: string;
  service: string;
  operation: string;
  arguments: LinkArgument[];
  returns?: string | null;
  description?: string | null;
}

interface StitchedVersion {
  sources: { service: string; transforms: { typePatterns?: Pattern[]; rootFieldPatterns?: Pattern[] } }[];
  prefer: { type: string; service: string }[];
  links: Link[];
}

/** A link: "Loan.member → members.member(id: memberId)" (with ": Member" after the field when it names its type). */
export function linkText(link: Link): string {
  const args = link.arguments.map((a) => `${a.argument}: ${a.from}`).join(", ");
  const returns = link.returns ? `: ${link.returns}` : "";
  return `${link.type}.${link.field}${returns} → ${link.service}.${link.operation}(${args})`;
}

/** What a link does, in a sentence: "Each Loan's member is member(id: …) of the members service, with the Loan's
 * memberId as id." */
export function linkSentence(link: Link): string {
  const given = link.arguments.map((a) => `its ${a.from} as ${a.argument}`).join(" and ");
  return `Each ${link.type} gets ${link.field} from the ${link.service} service's ${link.operation}, given ${given}.`;
}

/** A source's renames by pattern: "types Loan(.*) → Lending\1", "root fields (.*) → directory_\1". */
export function patternTexts(transforms: { typePatterns?: Pattern[]; rootFieldPatterns?: Pattern[] }): string[] {
  return [
    ...(transforms.typePatterns ?? []).map((p) => `types ${p.pattern} → ${p.replacement}`),
    ...(transforms.rootFieldPatterns ?? []).map((p) => `root fields ${p.pattern} → ${p.replacement}`),
  ];
}

/** The stitching of a version for its overview: renames by pattern per service, the winning definitions, the
 * links; empty lists when the version has none. */
export function stitchingOf(version: StitchedVersion | null) {
  if (!version) return { renames: [], prefer: [], links: [] };
  return {
    renames: version.sources
      .map((s) => ({ service: s.service, patterns: patternTexts(s.transforms) }))
      .filter((s) => s.patterns.length > 0),
    prefer: version.prefer.map((p) => `${p.type}: the ${p.service} service's definition wins`),
    links: version.links.map((link) => ({ text: linkText(link), sentence: linkSentence(link), description: link.description ?? "" })),
  };
}
