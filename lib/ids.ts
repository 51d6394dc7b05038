const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether a value is a UUID, the form of every Registrar id. Checked before a lookup by an id from a
 * URL: PostgreSQL refuses a malformed one with an error (a 500 page) where "not found" is the answer.
 */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}
