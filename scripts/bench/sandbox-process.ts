import { fork } from 'node:child_process';
import path from 'node:path';
import type { Sandbox, SandboxOptions } from '@/sandbox/index';

type Info = Pick<Sandbox, 'general' | 'mercy' | 'epic' | 'adminToken'>;

/**
 * The sandbox hospitals in a process of their own, as a hospital is in life: the bench then
 * measures Registrar's work, not Registrar and the hospital sharing one event loop.
 */
export async function startSandboxProcess(opts: Pick<SandboxOptions, 'generalIssuesSecretOnUpdate' | 'generalSecretTtlSeconds'> = {}): Promise<Info & { pid: number; stop(): Promise<void> }> {
  const child = fork(path.resolve('scripts/bench/sandbox-child.ts'), [JSON.stringify(opts)], {
    execArgv: ['--import', 'tsx', '--conditions=react-server'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const info = await new Promise<Info>((resolve, reject) => {
    child.once('message', (m) => resolve(m as Info));
    child.once('exit', (code) => reject(new Error(`the sandbox process exited (${code}) before it was ready`)));
  });
  return {
    ...info,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
