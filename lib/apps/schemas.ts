import { z } from 'zod';
import { TOKEN_AUTH_METHODS } from '@/db/schema';
import { redirectUriErrors } from '@/lib/redirect-uris/validate';
import { environmentNameSchema } from './environments';

// Lives apart so that the app profile form can check a new environment's name without the database schema.
export { environmentNameSchema };

const optionalUrl = z
  .string()
  .trim()
  .max(2000)
  .optional()
  .nullable()
  .transform((v) => v || null)
  .refine((v) => v === null || /^https:\/\/\S+$/.test(v), 'Use an https:// URL.');

/** Lines or an array → trimmed non-empty strings. Redirect URIs keep inner characters exactly. */
const lines = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((v) => (typeof v === 'string' ? v.split('\n') : (v ?? [])).map((s) => s.replace(/\r$/, '')).filter((s) => s.trim() !== ''));

export const environmentProfileSchema = z.object({
  redirectUris: lines,
  // Left out: RFC 7591's default, authorization_code. Given but empty (every box unticked): refused,
  // rather than quietly saved as authorization_code, which the person did not choose.
  grantTypes: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .superRefine((v, ctx) => {
      if (v !== undefined && lines.parse(v).length === 0) ctx.addIssue({ code: 'custom', message: 'Choose at least one grant type (client_credentials for a backend service, authorization_code for an app a person launches).' });
    })
    .transform((v) => {
      const list = lines.parse(v).map((s) => s.trim());
      return list.length ? [...new Set(list)] : ['authorization_code'];
    }),
  responseTypes: lines.transform((v) => (v.length ? v.map((s) => s.trim()) : ['code'])),
  tokenEndpointAuthMethod: z.enum(TOKEN_AUTH_METHODS, { message: 'Choose a token endpoint auth method.' }),
  scope: z.string().max(4000).default('').transform((s) => s.trim().split(/\s+/).filter(Boolean).join(' ')),
  keyAlgorithm: z.enum(['RS384', 'ES384'], { message: 'Choose ES384 or RS384 as the key algorithm.' }).default('ES384'),
  applicationType: z.enum(['web', 'native'], { message: 'Choose web or native as the application type, or leave it unset.' }).optional(),
  epicClientId: z.string().trim().max(200).optional().nullable().transform((v) => v || null),
}).superRefine((env, ctx) => {
  // RFC 6749 §3.1.2, RFC 8252, RFC 9700: a URI no server may accept is refused here, at its field,
  // rather than at every hospital later.
  for (const message of redirectUriErrors(env.redirectUris, { applicationType: env.applicationType })) ctx.addIssue({ code: 'custom', path: ['redirectUris'], message });
});

export const appProfileSchema = z.object({
  name: z.string().trim().min(1, 'Give the app a name.').max(200),
  softwareId: z
    .string()
    .trim()
    .min(1, 'Give the app a software_id (stable across versions, e.g. a UUID or reverse-domain name).')
    .max(200)
    .regex(/^\S+$/, 'A software_id has no spaces.'),
  softwareVersion: z.string().trim().max(100).optional().nullable().transform((v) => v || null),
  clientUri: optionalUrl,
  logoUri: optionalUrl,
  tosUri: optionalUrl,
  policyUri: optionalUrl,
  contacts: lines.pipe(z.array(z.email('Each contact must be an email address.'))),
  environments: z
    .record(environmentNameSchema, environmentProfileSchema, {
      // zod's own "Invalid key in record" says neither which environment nor what is wrong with its name.
      error: (issue) => (issue.code === 'invalid_key' ? `Environment "${String(issue.input)}": ${issue.issues.map((i) => i.message).join(' ')}` : undefined),
    })
    .refine((envs) => Object.keys(envs).length > 0, 'Add at least one environment.'),
  softwareStatement: z.object({ enabled: z.boolean() }).default({ enabled: false }),
});
export type AppProfileInput = z.input<typeof appProfileSchema>;

export const updateAppSchema = z.object({ appId: z.uuid(), expectedVersion: z.number().int().positive(), profile: appProfileSchema });
