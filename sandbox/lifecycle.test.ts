import { Agent, fetch as undiciFetch } from 'undici';
import { describe, expect, it } from 'vitest';
import { startSandbox } from './index';

async function refused(url: string): Promise<boolean> {
  try {
    const res = await fetch(url);
    await res.body?.cancel();
    return false;
  } catch {
    return true;
  }
}

describe('sandbox lifecycle', () => {
  it('starts and stops repeatedly, and stop frees the ports for reuse', async () => {
    const first = await startSandbox({ tenants: 2, log: () => undefined });
    const ports = {
      general: Number(new URL(first.general.origin).port),
      mercy: Number(new URL(first.mercy.origin).port),
      epic: Number(new URL(first.epic.origin).port),
      tenants: Number(new URL(first.tenantsBase ?? '').port),
    };
    await first.stop();
    expect(await refused(`${first.general.origin}/.well-known/openid-configuration`)).toBe(true);
    expect(await refused(`${first.epic.fhirBase}/metadata`)).toBe(true);

    for (let round = 0; round < 3; round += 1) {
      const again = await startSandbox({ ports, tenants: 2, log: () => undefined });
      expect(again.general.origin).toBe(first.general.origin);
      expect(again.tenantsBase).toBe(first.tenantsBase);
      const res = await fetch(`${again.mercy.issuer}/.well-known/openid-configuration`);
      expect(res.status).toBe(200);
      await res.body?.cancel();
      await again.stop();
    }
  });

  it('stops promptly while a client holds keep-alive connections', async () => {
    const sandbox = await startSandbox({ tenants: 1, log: () => undefined });
    const agent = new Agent({ keepAliveTimeout: 60_000 });
    try {
      for (const url of [`${sandbox.general.issuer}/.well-known/openid-configuration`, `${sandbox.tenantsBase}/t/0/.well-known/openid-configuration`]) {
        const res = await undiciFetch(url, { dispatcher: agent });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }
      const started = Date.now();
      await sandbox.stop();
      expect(Date.now() - started).toBeLessThan(2_000);
      await sandbox.stop(); // idempotent
    } finally {
      await agent.close();
    }
  });

  it('uses the admin token it is given, and refuses a port already in use', async () => {
    const sandbox = await startSandbox({ adminToken: 'test-admin-token', log: () => undefined });
    try {
      expect(sandbox.adminToken).toBe('test-admin-token');
      const res = await fetch(`${sandbox.epic.origin}/sandbox/initial-access-tokens`, {
        method: 'POST',
        headers: { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' },
        body: JSON.stringify({ uses: 3, expiresInSeconds: 60 }),
      });
      expect(res.status).toBe(201);
      expect(await res.json()).toEqual({ token: expect.any(String), expiresAt: expect.any(Number), uses: 3 });

      const busy = Number(new URL(sandbox.general.origin).port);
      await expect(startSandbox({ ports: { mercy: busy }, log: () => undefined })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await sandbox.stop();
    }
  });

  it('validates mint options', async () => {
    const sandbox = await startSandbox({ log: () => undefined });
    try {
      await expect(sandbox.mintInitialAccessToken('epic', { uses: 0 })).rejects.toThrow(/uses/);
      await expect(sandbox.mintInitialAccessToken('mercy', { expiresInSeconds: -1 })).rejects.toThrow(/expiresInSeconds/);
    } finally {
      await sandbox.stop();
    }
  });
});
