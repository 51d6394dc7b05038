// Where the CLI keeps its URL and token: the user's config directory, file mode 0600.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** REGISTRAR_CONFIG, else the platform's per-user config directory (XDG on Linux). */
export function configPath(env = process.env) {
  if (env.REGISTRAR_CONFIG) return path.resolve(env.REGISTRAR_CONFIG);
  let base;
  if (process.platform === 'win32') base = env.APPDATA || path.join(os.homedir(), 'AppData', 'Roaming');
  else if (process.platform === 'darwin') base = path.join(os.homedir(), 'Library', 'Application Support');
  else base = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'registrar', 'config.json');
}

export async function readConfig(env = process.env) {
  let stored = {};
  try {
    stored = JSON.parse(await readFile(configPath(env), 'utf8'));
  } catch (error) {
    if (error && error.code !== 'ENOENT') throw new Error(`Cannot read ${configPath(env)}: ${error.message}`);
  }
  // The environment wins (CI): REGISTRAR_URL and REGISTRAR_TOKEN.
  return { url: env.REGISTRAR_URL || stored.url || null, token: env.REGISTRAR_TOKEN || stored.token || null };
}

/** Written to a temporary file with mode 0600 and renamed over the old one, so it is never readable by others. */
export async function writeConfig(config, env = process.env) {
  const file = configPath(env);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
  return file;
}
