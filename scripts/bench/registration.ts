import { randomUUID } from 'node:crypto';
import * as client from 'openid-client';
import { getDb } from '@/db/client';
import { insertApp, insertUser } from '@/db/factories';
import { outboundAllowlist } from '@/db/schema';
import { createHealthSystem } from '@/lib/health-systems/mutations';
import { addIssuer } from '@/lib/issuers/add-issuer';
import { registerClient } from '@/lib/oauth/registration';
import { currentOutboundPolicy } from '@/lib/outbound/policy';
import { registerApp } from '@/lib/registrations/register';
import { startSandbox } from '@/sandbox/index';
import { median } from './db';

/**
 * 200 registrations through Registrar's domain path (intent row, RFC 7591 POST through the safe
 * fetch, encrypted persistence, audit) vs 200 direct openid-client registrations, same server.
 */
export async function benchRegistration(): Promise<Array<{ label: string; value: string }>> {
  const sandbox = await startSandbox({ log: () => {} });
  try {
    await getDb().insert(outboundAllowlist).values({ entry: `http://${new URL(sandbox.general.origin).host}` }).onConflictDoNothing();
    const ops = await insertUser({ role: 'ops' });
    const system = await createHealthSystem(ops.actor, { name: `Bench ${randomUUID()}` });
    const issuer = await addIssuer(ops.actor, { healthSystemId: system.id, url: sandbox.general.issuer, environment: 'sandbox' });
    const { appId } = await insertApp({ environments: { production: { tokenEndpointAuthMethod: 'client_secret_basic' } } });
    const metadata = { client_name: 'Bench direct', redirect_uris: ['https://app.example.com/callback'], token_endpoint_auth_method: 'client_secret_basic', scope: 'openid fhirUser launch/patient' };

    const run = async (fn: () => Promise<unknown>) => {
      const times: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t = performance.now();
        await fn();
        times.push(performance.now() - t);
      }
      return median(times);
    };
    // Warm both paths once so module loading and first connections are not counted.
    await registerApp(ops.actor, { issuerId: issuer.id, appId, environment: 'production', idempotencyKey: randomUUID() + randomUUID() });
    const direct = () => client.dynamicClientRegistration(new URL(sandbox.general.issuer), metadata, undefined, { execute: [client.allowInsecureRequests] });
    await direct();

    const registrar = await run(() => registerApp(ops.actor, { issuerId: issuer.id, appId, environment: 'production', idempotencyKey: randomUUID() + randomUUID() }));
    const openid = await run(direct);
    // Context, not part of the ratio: the RFC 7591 POST alone through the safe outbound fetch (a
    // new pinned connection per request), which the domain path cannot go below.
    const policy = await currentOutboundPolicy();
    const registrationEndpoint = issuer.discovery.endpoints.registration!.value;
    const postOnly = await run(() => registerClient({ registrationEndpoint, metadata, fetchInit: { policy } }));
    return [
      { label: 'registration through Registrar (domain path), median of 200', value: `${registrar.toFixed(1)} ms` },
      { label: 'direct openid-client dynamicClientRegistration, median of 200', value: `${openid.toFixed(1)} ms` },
      { label: 'Registrar / openid-client (goal ≤ 1.3)', value: `${(registrar / openid).toFixed(2)}×` },
      { label: 'for context: RFC 7591 POST alone through the safe fetch (no database), median of 200', value: `${postOnly.toFixed(1)} ms` },
    ];
  } finally {
    await sandbox.stop();
  }
}
