import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';

export type E2EContext = {
  databaseUrl: string;
  baseUrl: string;
  setupLink: string | null;
  sandbox: Record<'general' | 'mercy' | 'epic', { name: string; issuer: string; fhirBase: string; origin: string; registrationEndpoint: string }> & { adminToken: string };
};

export const STATE_DIR = path.resolve('.data/e2e');
export const ROLES = ['admin', 'ops', 'manager', 'support'] as const;
export type Role = (typeof ROLES)[number];
export const storageStateFor = (role: Role) => path.join(STATE_DIR, `state-${role}.json`);

export function e2eContext(): E2EContext {
  return JSON.parse(readFileSync(path.join(STATE_DIR, 'context.json'), 'utf8')) as E2EContext;
}

/** Runs SQL against the database the app under test uses, to assert what it holds. */
export async function query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: e2eContext().databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Creates a user through the product's own CLI (`npm run user:create`) and returns its password. */
export function createUserWithCli(email: string, role: Role): string {
  const output = execFileSync('npx', ['tsx', '--conditions=react-server', 'scripts/user-create.ts', '--email', email, '--role', role], {
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: e2eContext().databaseUrl, LOG_LEVEL: 'silent' },
  });
  const last = output.trim().split('\n').at(-1)?.trim();
  if (!last) throw new Error('user:create printed no password');
  return last;
}

export const uniqueEmail = (prefix: string) => `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}@example.test`;
