import 'server-only';
import { z } from 'zod';
import { assertCan, type Actor } from '@/lib/auth/actor';
import { auditedMutation } from '@/lib/audit/record';
import { env } from '@/lib/env';
import { getSetting, putSetting } from './store';

const DOMAINS_KEY = 'sso.selfSignupDomains';

export const ssoDomainsSchema = z.object({
  domains: z
    .string()
    .max(2000)
    .transform((s) => [...new Set(s.split(/[\s,]+/).map((d) => d.trim().toLowerCase()).filter(Boolean))])
    .pipe(z.array(z.string().regex(/^(?=.{1,253}$)([a-z0-9-]+\.)+[a-z]{2,}$/, 'Each entry must be a domain such as example.com.')).max(50)),
});

export async function getSsoSettings(actor: Actor) {
  assertCan(actor, 'settings:manage');
  const e = env();
  return {
    configured: Boolean(e.SSO_ISSUER && e.SSO_CLIENT_ID && e.SSO_CLIENT_SECRET),
    issuer: e.SSO_ISSUER ?? null,
    envDomains: e.SSO_SELF_SIGNUP_DOMAINS.split(',').map((d) => d.trim()).filter(Boolean),
    domains: (await getSetting<string[]>(DOMAINS_KEY)) ?? [],
  };
}

/** Domains whose verified SSO users may sign themselves up (as support). */
export async function setSsoSignupDomains(actor: Actor, input: z.input<typeof ssoDomainsSchema>) {
  assertCan(actor, 'settings:manage');
  const { domains } = ssoDomainsSchema.parse(input);
  return auditedMutation(actor, { action: 'settings.sso_signup_domains', targetType: 'setting', targetId: DOMAINS_KEY, details: { domains } }, async (tx) => {
    await putSetting(tx, DOMAINS_KEY, domains);
    return { result: { domains } };
  });
}

