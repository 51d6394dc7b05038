import { execFile } from 'node:child_process';
import path from 'node:path';

/** The repository's root, where the CLI runs from in tests. */
export const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');
const BIN = path.join(REPO_ROOT, 'bin/registrar.mjs');

export type CliRun = { code: number; stdout: string; stderr: string };

/**
 * Runs the `registrar` CLI as a user would, with a config directory of the test's own (`home`, so
 * a saved login never comes from the real one) and only the environment given: nothing leaks in
 * from the test process but PATH.
 */
export function runCli(args: string[], opts: { home: string; env?: Record<string, string>; timeoutMs?: number }): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: REPO_ROOT, env: { NODE_ENV: 'test', PATH: process.env.PATH ?? '', HOME: opts.home, XDG_CONFIG_HOME: opts.home, ...opts.env } as NodeJS.ProcessEnv, timeout: opts.timeoutMs ?? 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}
