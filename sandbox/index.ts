import { randomBytes } from 'node:crypto';
import { resolveMintOptions } from './admin';
import { startEpicServer } from './epic';
import { startGeneralHospital, startMercyHealth } from './hospitals';
import { startTenantsServer } from './tenants';
import type { HospitalInfo } from './types';

export type { HospitalInfo, HospitalKey } from './types';
export { ADMIN_IAT_PATH } from './admin';
export { MERCY_TRUSTED_REDIRECT_HOSTS } from './hospitals';

export type Sandbox = {
  general: HospitalInfo;
  mercy: HospitalInfo;
  epic: HospitalInfo;
  /** Bearer token for the sandbox admin endpoints (`POST {origin}/sandbox/initial-access-tokens`). */
  adminToken: string;
  /** Mints an initial access token (default: valid 1 hour, 1 use). */
  mintInitialAccessToken(hospital: 'mercy' | 'epic', opts?: { expiresInSeconds?: number; uses?: number }): Promise<string>;
  /** Base of the many-issuers server: tenant i's issuer is `${tenantsBase}/t/${i}`, i in [0, tenants). */
  tenantsBase?: string;
  stop(): Promise<void>;
};

export type SandboxOptions = {
  ports?: { general?: number; mercy?: number; epic?: number; tenants?: number };
  /** Lifetime of General Hospital's client secrets; default 30 days. */
  generalSecretTtlSeconds?: number;
  /**
   * General Hospital answers an RFC 7592 update with a new client secret (as RFC 7592 §2.2 allows);
   * default false: like node-oidc-provider itself, it keeps the secret.
   */
  generalIssuesSecretOnUpdate?: boolean;
  /** Number of issuers on the tenants server; 0 (default) starts no tenants server. */
  tenants?: number;
  adminToken?: string;
  /** Receives server errors; default console.error. */
  log?: (line: string) => void;
};

type Closable = { close(): Promise<void> };

/** Starts the local hospitals on 127.0.0.1 (ephemeral ports unless given). */
export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const adminToken = opts.adminToken ?? `sbx_${randomBytes(24).toString('base64url')}`;
  const log = opts.log ?? ((line: string) => console.error(line));
  const ports = opts.ports ?? {};
  const tenants = opts.tenants ?? 0;
  if (!Number.isInteger(tenants) || tenants < 0) throw new Error('tenants must be a non-negative integer');
  const secretTtlSeconds = opts.generalSecretTtlSeconds ?? 30 * 24 * 3600;
  if (!Number.isInteger(secretTtlSeconds) || secretTtlSeconds < 0) throw new Error('generalSecretTtlSeconds must be a non-negative integer');

  const pending = [
    startGeneralHospital({ port: ports.general ?? 0, adminToken, log, secretTtlSeconds, issueSecretOnUpdate: opts.generalIssuesSecretOnUpdate ?? false }),
    startMercyHealth({ port: ports.mercy ?? 0, adminToken, log }),
    startEpicServer({ port: ports.epic ?? 0, adminToken, log }),
    tenants > 0 ? startTenantsServer({ port: ports.tenants ?? 0, count: tenants }) : Promise.resolve(undefined),
  ] as const;
  const settled = await Promise.allSettled(pending);
  const servers: Closable[] = settled.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []));
  const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) {
    // One port in use must not leave the others listening.
    await Promise.all(servers.map((s) => s.close()));
    throw failure.reason;
  }
  const [general, mercy, epic, tenantsServer] = await Promise.all(pending);

  let stopping: Promise<void> | undefined;
  return {
    general: general.info,
    mercy: mercy.info,
    epic: epic.info,
    adminToken,
    tenantsBase: tenantsServer?.base,
    async mintInitialAccessToken(hospital, mintOpts) {
      const resolved = resolveMintOptions(mintOpts ?? {});
      if (typeof resolved === 'string') throw new Error(resolved);
      const minter = hospital === 'mercy' ? mercy.mintInitialAccessToken : epic.mintInitialAccessToken;
      if (!minter) throw new Error(`${hospital} does not take initial access tokens`);
      return (await minter(resolved)).token;
    },
    stop() {
      stopping ??= Promise.all(servers.map((s) => s.close())).then(() => undefined);
      return stopping;
    },
  };
}
