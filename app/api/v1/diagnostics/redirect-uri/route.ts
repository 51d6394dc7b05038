import { apiRoute, jsonResponse } from '@/lib/api/handler';
import { operations } from '@/lib/api/operations';
import { diagnoseAuthorizationRequest, redirectFindings } from '@/lib/diagnostics';
import { AppError } from '@/lib/errors';
import { findClosestRegisteredUri } from '@/lib/redirect-uris';

export const dynamic = 'force-dynamic';

export const POST = apiRoute(operations.diagnoseRedirectUri, async ({ actor, body }) => {
  if (body.presented !== undefined && body.registered !== undefined) {
    // Nothing to compare with is not "no match": say what to give instead.
    if (body.registered.length === 0) {
      throw new AppError('INVALID', 'There is nothing to compare the redirect URI with: give the registered redirect URIs (`registered`), or `clientId` or `authorizationUrl` for Registrar to look the registration up.', { field: 'registered' });
    }
    // Registered URIs given by the caller: the comparator itself, on the raw strings (nothing
    // trimmed, so a stray space on either side is found); findings carry the same fixes as the page.
    const closest = findClosestRegisteredUri(body.presented, body.registered);
    const exact = closest.match && closest.candidate === body.presented;
    return jsonResponse({
      match: closest.match,
      verdict: exact ? 'exact-match' : closest.match ? 'loopback-port-match' : 'no-match',
      presented: body.presented,
      candidate: closest.candidate,
      registeredUris: body.registered,
      registration: null,
      findings: redirectFindings(body.presented, closest, { epic: false }).map((f) => ({ code: f.code, severity: f.severity, message: f.message, fix: f.fix })),
    });
  }
  // A client id or a whole authorization URL: the diagnostics domain finds the registrations.
  // `presented` goes through as sent, "the redirect URI the app sends, exactly": the domain does not
  // trim it, so a stray space is a WHITESPACE no-match here too, as with `registered`.
  const diagnosis = await diagnoseAuthorizationRequest(
    actor,
    body.authorizationUrl !== undefined
      ? { mode: 'url', authorizationUrl: body.authorizationUrl, issuer: body.issuer ?? null }
      : { mode: 'client', clientId: body.clientId!, redirectUri: body.presented!, issuer: body.issuer ?? null },
  );
  const primary = diagnosis.primary;
  const reg = primary?.registration ?? null;
  return jsonResponse({
    match: diagnosis.verdict === 'exact-match' || diagnosis.verdict === 'loopback-port-match',
    verdict: diagnosis.verdict,
    presented: diagnosis.presentedRedirectUri,
    candidate: primary?.comparison.candidate ?? null,
    registeredUris: primary?.redirectUris ?? [],
    registration: reg ? { id: reg.id, clientId: reg.clientId, environment: reg.environment, status: reg.status, issuerId: reg.issuerId, issuerUrl: reg.issuerUrl, healthSystemName: reg.healthSystemName } : null,
    findings: diagnosis.findings.map((f) => ({ code: f.code, severity: f.severity, message: f.message, fix: f.fix })),
  });
});
