/** Child side of startSandboxProcess: starts the sandbox, reports its addresses, stops on SIGTERM. */
import { startSandbox, type SandboxOptions } from '@/sandbox/index';

const opts = JSON.parse(process.argv[2] ?? '{}') as SandboxOptions;
const sandbox = await startSandbox({ ...opts, log: () => {} });
process.send?.({ general: sandbox.general, mercy: sandbox.mercy, epic: sandbox.epic, adminToken: sandbox.adminToken });
process.once('SIGTERM', () => {
  void sandbox.stop().then(() => process.exit(0));
});
