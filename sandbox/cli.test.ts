import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');

describe('sandbox CLI', () => {
  it('prints each hospital and the admin token, serves, and exits 0 on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [path.join(root, 'node_modules/tsx/dist/cli.mjs'), 'sandbox/cli.ts', '--general', '0', '--mercy', '0', '--epic', '0', '--tenants-port', '0', '--tenants', '3', '--admin-token', 'cli-admin'],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 20_000;
      while (!out.includes('ready') && Date.now() < deadline) {
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(out).toContain('ready');
      for (const name of ['General Hospital', 'Mercy Health', 'Epic-like Health System']) expect(out).toContain(name);
      expect(out).toContain('admin token: cli-admin');
      const issuer = /Mercy Health \(mercy\)\n\s+issuer\s+(\S+)/.exec(out)?.[1];
      expect(issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${issuer}/.well-known/openid-configuration`);
      expect(((await res.json()) as { issuer: string }).issuer).toBe(issuer);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
