/** PostgreSQL unique_violation, surfaced by pg through drizzle (possibly wrapped as `cause`). */
export function isUniqueViolation(error: unknown): boolean {
  let e: unknown = error;
  for (let i = 0; i < 3 && e; i++) {
    if (typeof e === 'object' && e !== null && 'code' in e && (e as { code: unknown }).code === '23505') return true;
    e = typeof e === 'object' && e !== null && 'cause' in e ? (e as { cause: unknown }).cause : undefined;
  }
  return false;
}

/** The unique constraint (index) a unique_violation names, or undefined for any other error. */
export function violatedConstraint(error: unknown): string | undefined {
  let e: unknown = error;
  for (let i = 0; i < 3 && typeof e === 'object' && e !== null; i++) {
    if ('code' in e && e.code === '23505' && 'constraint' in e && typeof e.constraint === 'string') return e.constraint;
    e = 'cause' in e ? e.cause : undefined;
  }
  return undefined;
}
