import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError } from '@/lib/errors';
import { fieldErrorsOf, toActionFailure } from './define-action';

const schema = z.object({
  appId: z.string().uuid('Pick an app.'),
  profile: z.object({ clientUri: z.string().url('client_uri must be a URL.'), contacts: z.array(z.string().email('Each contact must be an email address.')) }),
});

describe('fieldErrorsOf', () => {
  it('files a nested field error under its own name and full path, besides its top-level key', () => {
    const parsed = schema.safeParse({ appId: 'x', profile: { clientUri: 'not a url', contacts: ['ok@example.com', 'nope'] } });
    expect(parsed.success).toBe(false);
    const errors = fieldErrorsOf(parsed.error!);
    expect(errors.appId).toEqual(['Pick an app.']);
    expect(errors.clientUri).toEqual(['client_uri must be a URL.']);
    expect(errors['profile.clientUri']).toEqual(['client_uri must be a URL.']);
    expect(errors.contacts).toEqual(['Each contact must be an email address.']);
    expect(errors.profile).toEqual(['client_uri must be a URL.', 'Each contact must be an email address.']);
  });

  it('is what a failed domain parse returns to the form', () => {
    const parsed = schema.safeParse({ appId: '00000000-0000-4000-8000-000000000000', profile: { clientUri: 'nope', contacts: [] } });
    const failure = toActionFailure('test', parsed.error);
    expect(failure).toMatchObject({ ok: false, error: { code: 'INVALID' }, fieldErrors: { clientUri: ['client_uri must be a URL.'] } });
  });
});

describe('toActionFailure of a hospital’s refusal', () => {
  it('files an RFC 7591 error at the field it names, under the metadata name and the form’s camel-case name', () => {
    const refused = new AppError('UPSTREAM_REJECTED', 'invalid_redirect_uri: the redirect URI must use https', { registrationError: { error: 'invalid_redirect_uri', field: 'redirect_uris', status: 400 } });
    const failure = toActionFailure('register', refused);
    expect(failure.fieldErrors).toEqual({ redirect_uris: [refused.message], redirectUris: [refused.message] });
    // A field of Registrar's own stays as it is, beside the hospital's.
    const both = toActionFailure('register', new AppError('INVALID', 'x', { field: 'issuerId', registrationError: { field: 'client_name' } }));
    expect(Object.keys(both.fieldErrors ?? {}).sort()).toEqual(['clientName', 'client_name', 'issuerId']);
  });
});
