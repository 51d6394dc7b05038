import 'server-only';
import { getTableColumns, getTableName, type InferSelectModel, type Table } from 'drizzle-orm';

/**
 * A row that hand-written SQL returned (`returning *`: column names, values as drizzle's session
 * receives them) in the shape drizzle's query builders return: property names and each column's
 * own mapping (timestamps to Date, …). For statements a builder cannot express or builds too slowly.
 */
export function rowFromDriver<T extends Table>(table: T, row: Record<string, unknown>): InferSelectModel<T> {
  const mapped: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(getTableColumns(table))) {
    // A column the statement did not return is a bug in the statement, not a null.
    if (!(column.name in row)) throw new Error(`The statement returned no "${column.name}" column for ${getTableName(table)}.`);
    const value = row[column.name];
    mapped[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return mapped as InferSelectModel<T>;
}
