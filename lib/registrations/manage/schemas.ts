import 'server-only';
import { z } from 'zod';

const registrationId = z.uuid();

export const refreshRegistrationSchema = z.object({ registrationId });
export type RefreshRegistrationInput = z.input<typeof refreshRegistrationSchema>;

export const deleteRegistrationSchema = z.object({ registrationId });
export type DeleteRegistrationInput = z.input<typeof deleteRegistrationSchema>;

/** Members the client may never send in an update (RFC 7592 §2.2), and the secret it may not choose. */
export const NOT_UPDATABLE_FIELDS = ['registration_access_token', 'registration_client_uri', 'client_secret_expires_at', 'client_id_issued_at', 'client_secret', 'client_id'] as const;

const nonEmptyStrings = (what: string) => z.array(z.string().trim().min(1, `An empty ${what} is not allowed.`));

/**
 * Metadata changes applied on top of the server's latest record. A null value removes the field
 * upstream (the PUT replaces the whole registration). The fields the edit form offers are typed;
 * other client metadata (e.g. from "sync to app profile" or the API) passes through as JSON.
 */
export const metadataChangesSchema = z
  .object({
    redirect_uris: nonEmptyStrings('redirect URI').min(1, 'Keep at least one redirect URI.').optional(),
    // An emptied text field removes the member upstream.
    scope: z.string().trim().max(4000).nullable().optional().transform((v) => (v === '' ? null : v)),
    client_name: z.string().trim().max(200).nullable().optional().transform((v) => (v === '' ? null : v)),
    grant_types: nonEmptyStrings('grant type').min(1, 'Keep at least one grant type.').optional(),
  })
  .catchall(z.unknown())
  .superRefine((changes, ctx) => {
    for (const field of NOT_UPDATABLE_FIELDS) {
      if (field in changes) {
        ctx.addIssue({ code: 'custom', path: [field], message: `${field} cannot be changed by an update (RFC 7592 §2.2).` });
      }
    }
    if (Object.keys(changes).length === 0) ctx.addIssue({ code: 'custom', path: [], message: 'Nothing to change.' });
  });
export type MetadataChanges = z.output<typeof metadataChangesSchema>;

export const updateRegistrationSchema = z.object({ registrationId, changes: metadataChangesSchema });
export type UpdateRegistrationInput = z.input<typeof updateRegistrationSchema>;

export const syncRegistrationSchema = z.object({
  registrationId,
  /** Without it only the diff is returned; with it the diff is applied. */
  confirm: z.boolean().default(false),
  /** The profile version the person reviewed; a newer one in the meantime is a conflict. */
  appVersion: z.number().int().min(1).optional(),
});
export type SyncRegistrationInput = z.input<typeof syncRegistrationSchema>;
