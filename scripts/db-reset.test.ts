import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

function dbReset(databaseUrl: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), '--conditions=react-server', 'scripts/db-reset.ts'],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: databaseUrl }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('npm run db:reset', () => {
  it('refuses a URL whose ?host= points away from this machine, even with localhost in its authority, and prints no password', async () => {
    const result = await dbReset('postgres://admin:s3cret-pw@localhost:5432/registrar?host=db.prod.invalid');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Refusing to reset');
    expect(`${result.stdout}${result.stderr}`).not.toContain('s3cret-pw');
  });
});
