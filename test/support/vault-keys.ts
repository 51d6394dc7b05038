import { resetVaultCache } from '@/lib/credentials/vault';
import { resetEnvCache } from '@/lib/env';

/** The environment variables the vault reads its key-encryption keys from (lib/credentials/keyring.ts). */
export const VAULT_KEY_VARS = ['REGISTRAR_KEY', 'REGISTRAR_KEY_FILE', 'REGISTRAR_PREVIOUS_KEYS'] as const;
export type VaultKeyVars = Partial<Record<(typeof VAULT_KEY_VARS)[number], string>>;

/** The vault's key variables as they are now (to restore with setVaultKeys afterwards). */
export function currentVaultKeys(): VaultKeyVars {
  return Object.fromEntries(VAULT_KEY_VARS.flatMap((v) => (process.env[v] === undefined ? [] : [[v, process.env[v]]])));
}

/**
 * Sets exactly these key variables (the others unset: `{}` locks the vault) and drops the cached
 * environment and key ring, so the next vault call sees them. Tests only: a running server reads
 * its keys once, from lib/env.
 */
export function setVaultKeys(vars: VaultKeyVars): void {
  for (const v of VAULT_KEY_VARS) {
    const value = vars[v];
    if (value === undefined) delete process.env[v];
    else process.env[v] = value;
  }
  resetEnvCache();
  resetVaultCache();
}
