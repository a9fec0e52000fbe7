// Editing a list of form rows: one row changed, or one row taken out, leaving the others as they are.

export function changeAt<T>(rows: T[], index: number, change: Partial<T>): T[] {
  return rows.map((row, i) => (i === index ? { ...row, ...change } : row));
}

export function removeAt<T>(rows: T[], index: number): T[] {
  return rows.filter((_, i) => i !== index);
}
