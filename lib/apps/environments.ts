// Browser-safe (no `server-only`, no database schema): the app profile form imports it.
import { z } from 'zod';

export const environmentNameSchema = z
  .string()
  .trim()
  .min(1, 'Name the environment.')
  .max(50)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'Use lower-case letters, digits, - or _ (e.g. production, staging).');

/** The inputs of one environment, by their key in `environmentProfileSchema` (a test keeps the two equal). */
export const ENVIRONMENT_FIELDS = ['redirectUris', 'grantTypes', 'responseTypes', 'tokenEndpointAuthMethod', 'scope', 'keyAlgorithm', 'applicationType', 'epicClientId'] as const;
export type EnvironmentField = (typeof ENVIRONMENT_FIELDS)[number];

export type FieldErrors = Record<string, string[]>;
export type EnvironmentErrors = {
  /** About the environment itself (its name), shown on its card. */
  environment: string[];
  fields: Partial<Record<EnvironmentField, string[]>>;
};

/**
 * Where `fieldErrorsOf` files an environment's errors: under the path's names joined, which start
 * with `environments` for the create schema and with `profile.environments` for the edit schema
 * (it nests the profile). Array positions are not part of the key (`redirectUris.0` → `redirectUris`).
 * The bare last name (`scope`) is no use here: it mixes every environment.
 */
const ROOTS = ['environments', 'profile.environments'] as const;

function errorsAt(fieldErrors: FieldErrors, keys: string[]): string[] {
  return [...new Set(keys.flatMap((key) => fieldErrors[key] ?? []))];
}

const keysFor = (environment: string, field?: EnvironmentField) => ROOTS.map((root) => (field ? `${root}.${environment}.${field}` : `${root}.${environment}`));

/** One environment's errors, by the field they concern. */
export function environmentErrors(fieldErrors: FieldErrors, environment: string): EnvironmentErrors {
  const fields: EnvironmentErrors['fields'] = {};
  for (const field of ENVIRONMENT_FIELDS) {
    const errors = errorsAt(fieldErrors, keysFor(environment, field));
    if (errors.length) fields[field] = errors;
  }
  return { environment: errorsAt(fieldErrors, keysFor(environment)), fields };
}

/**
 * The environment errors that no environment card shows (e.g. "Add at least one environment."),
 * for the summary under the form. The bare `environments` key also repeats every nested message,
 * so what the cards show is taken out of it; a nested key no card shows (an environment removed
 * since) keeps its messages.
 */
export function unplacedEnvironmentErrors(fieldErrors: FieldErrors, environments: readonly string[]): string[] {
  const placedKeys = new Set(environments.flatMap((environment) => [...keysFor(environment), ...ENVIRONMENT_FIELDS.flatMap((field) => keysFor(environment, field))]));
  const placed = new Set(errorsAt(fieldErrors, [...placedKeys]));
  const out = new Set<string>();
  for (const [key, messages] of Object.entries(fieldErrors)) {
    if (placedKeys.has(key)) continue;
    const isRoot = (ROOTS as readonly string[]).includes(key);
    if (!isRoot && !ROOTS.some((root) => key.startsWith(`${root}.`))) continue;
    for (const message of messages) if (!isRoot || !placed.has(message)) out.add(message);
  }
  return [...out];
}
