import { describe, expect, it } from 'vitest';
import { fieldErrorsOf } from '@/lib/actions/define-action';
import { ENVIRONMENT_FIELDS, environmentErrors, environmentNameSchema, unplacedEnvironmentErrors } from './environments';
import { appProfileSchema, environmentProfileSchema, updateAppSchema } from './schemas';

const environment = (overrides: Record<string, unknown> = {}) => ({ redirectUris: 'https://app.example/cb', tokenEndpointAuthMethod: 'private_key_jwt', scope: 'openid', ...overrides });
const profile = (environments: Record<string, unknown>) => ({ name: 'App', softwareId: 'com.example.app', environments });

/** The field errors the app actions return for this input (the same parse, the same filing). */
function errorsFor(schema: typeof appProfileSchema | typeof updateAppSchema, input: unknown) {
  const parsed = schema.safeParse(input);
  if (parsed.success) throw new Error('expected the schema to refuse the input');
  return fieldErrorsOf(parsed.error);
}

describe('environmentErrors', () => {
  it('lists every input of the environment schema', () => {
    expect([...ENVIRONMENT_FIELDS].sort()).toEqual(Object.keys(environmentProfileSchema.shape).sort());
  });

  it('gives each field of the create form its own environment’s errors only', () => {
    const errors = errorsFor(appProfileSchema, profile({ production: environment({ epicClientId: 'e'.repeat(201), scope: 's'.repeat(4001) }), staging: environment({ keyAlgorithm: 'HS256' }) }));
    const production = environmentErrors(errors, 'production');
    expect(Object.keys(production.fields).sort()).toEqual(['epicClientId', 'scope']);
    expect(production.fields.epicClientId).toEqual([expect.stringMatching(/200 characters/)]);
    expect(production.fields.scope).toEqual([expect.stringMatching(/4000 characters/)]);
    expect(production.environment).toEqual([]);
    expect(environmentErrors(errors, 'staging').fields).toEqual({ keyAlgorithm: ['Choose ES384 or RS384 as the key algorithm.'] });
  });

  it('finds the errors of the edit form, whose schema nests the profile', () => {
    const errors = errorsFor(updateAppSchema, { appId: '00000000-0000-4000-8000-000000000000', expectedVersion: 1, profile: profile({ production: environment({ applicationType: 'desktop' }) }) });
    expect(errors.environments).toBeUndefined();
    expect(environmentErrors(errors, 'production').fields).toEqual({ applicationType: ['Choose web or native as the application type, or leave it unset.'] });
  });

  it('files an array item’s error (redirectUris.0) under its field', () => {
    const errors = { environments: ['Use an https URL.'], 'environments.production.redirectUris': ['Use an https URL.'], redirectUris: ['Use an https URL.'] };
    expect(environmentErrors(errors, 'production').fields).toEqual({ redirectUris: ['Use an https URL.'] });
  });

  it('puts a refused environment name on that environment, naming it', () => {
    const errors = errorsFor(appProfileSchema, profile({ 'my env': environment() }));
    expect(environmentErrors(errors, 'my env').environment).toEqual(['Environment "my env": Use lower-case letters, digits, - or _ (e.g. production, staging).']);
  });
});

describe('unplacedEnvironmentErrors', () => {
  it('leaves out what the environment cards show (create and edit)', () => {
    const create = errorsFor(appProfileSchema, profile({ production: environment({ epicClientId: 'e'.repeat(201) }), 'my env': environment() }));
    expect(create.environments).toHaveLength(2);
    expect(unplacedEnvironmentErrors(create, ['production', 'my env'])).toEqual([]);
    const edit = errorsFor(updateAppSchema, { appId: '00000000-0000-4000-8000-000000000000', expectedVersion: 1, profile: profile({ production: environment({ scope: 's'.repeat(4001) }) }) });
    expect(unplacedEnvironmentErrors(edit, ['production'])).toEqual([]);
  });

  it('keeps an error no field concerns: at least one environment', () => {
    expect(unplacedEnvironmentErrors(errorsFor(appProfileSchema, profile({})), [])).toEqual(['Add at least one environment.']);
    const edit = errorsFor(updateAppSchema, { appId: '00000000-0000-4000-8000-000000000000', expectedVersion: 1, profile: profile({}) });
    expect(unplacedEnvironmentErrors(edit, [])).toEqual(['Add at least one environment.']);
  });

  it('keeps the errors of an environment no card shows any more', () => {
    const errors = errorsFor(appProfileSchema, profile({ production: environment(), staging: environment({ epicClientId: 'e'.repeat(201) }) }));
    expect(unplacedEnvironmentErrors(errors, ['production'])).toEqual([expect.stringMatching(/200 characters/)]);
  });

  it('ignores the errors of other fields', () => {
    const errors = errorsFor(appProfileSchema, { ...profile({ production: environment() }), clientUri: 'http://app.example' });
    expect(unplacedEnvironmentErrors(errors, ['production'])).toEqual([]);
  });
});

describe('environmentNameSchema', () => {
  it('refuses what the record key refuses, with the same message', () => {
    expect(environmentNameSchema.safeParse('staging').success).toBe(true);
    expect(environmentNameSchema.safeParse('my env').error?.issues[0]?.message).toBe('Use lower-case letters, digits, - or _ (e.g. production, staging).');
  });
});
