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
  const url = env.REGISTRAR_URL || stored.url || null;
  if (env.REGISTRAR_TOKEN) return { url, token: env.REGISTRAR_TOKEN };
  // The saved token was checked against the saved URL at login and belongs to that server alone:
  // REGISTRAR_URL pointing elsewhere must not carry it to another host.
  if (stored.token && url && !sameOrigin(url, stored.url)) {
    return {
      url,
      token: null,
      problem: `REGISTRAR_URL (${url}) is not the server you logged in to (${stored.url ?? 'none'}), so the saved token is not sent there. Set REGISTRAR_TOKEN to a token for ${url}, or run \`registrar login --url ${url} --token TOKEN\`.`,
    };
  }
  return { url, token: stored.token || null };
}

/** Same scheme, host and port (the URL standard's origin: lower-cased host, default port dropped); anything unparsable is not. */
export function sameOrigin(a, b) {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
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
