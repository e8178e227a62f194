/**
 * Where the local CA lives on each operating system, whose it is, and how
 * to make the system trust it: pure functions of the OS and environment.
 *
 * @module
 */

/** Reads an environment variable (`Deno.env.get` in pws). */
export type EnvReader = (name: string) => string | undefined;

/**
 * The directory for pws's data, or undefined when the environment does not
 * say where home is:
 * - Linux and other Unix: `$XDG_DATA_HOME/pws` (when absolute, as the XDG
 *   spec requires), else `~/.local/share/pws`;
 * - macOS: `~/Library/Application Support/pws`;
 * - Windows: `%LOCALAPPDATA%\pws`.
 */
export function defaultDataDir(
  os: typeof Deno.build.os,
  env: EnvReader,
): string | undefined {
  if (os === "windows") {
    const local = env("LOCALAPPDATA");
    return local ? `${local}\\pws` : undefined;
  }
  const home = env("HOME");
  if (os === "darwin") {
    return home ? `${home}/Library/Application Support/pws` : undefined;
  }
  const xdg = env("XDG_DATA_HOME");
  if (xdg?.startsWith("/")) return `${xdg}/pws`;
  return home ? `${home}/.local/share/pws` : undefined;
}

/**
 * Whose CA it is, for its name: `user@host`. The user comes from `USER`,
 * `LOGNAME` or (Windows) `USERNAME`.
 */
export function caOwner(env: EnvReader, hostname: string): string {
  const user = env("USER") || env("LOGNAME") || env("USERNAME") || "user";
  return `${user}@${hostname}`;
}

/**
 * One line telling the user how to make this machine trust the CA at
 * `caPath`, including that browsers with their own certificate store
 * (Firefox; Chrome and Chromium on Linux) need it imported there too.
 */
export function trustInstruction(
  os: typeof Deno.build.os,
  caPath: string,
): string {
  const ca = shellQuote(caPath, os);
  const command = os === "darwin"
    ? `sudo security add-trusted-cert -d -r trustRoot -k ` +
      `/Library/Keychains/System.keychain ${ca}`
    : os === "windows"
    ? `certutil -user -addstore Root ${ca}`
    : `sudo cp ${ca} /usr/local/share/ca-certificates/pws-local-ca.crt ` +
      `&& sudo update-ca-certificates`;
  const browsers = os === "linux"
    ? "Firefox, Chrome and Chromium keep their own store"
    : "Firefox keeps its own store";
  return `to trust it: ${command} (${browsers}: import ${ca} there as an ` +
    `authority)`;
}

/**
 * `text` quoted for the shell the instruction is for, when it needs
 * quoting (macOS's "Application Support" does).
 */
function shellQuote(text: string, os: typeof Deno.build.os): string {
  let plain = true;
  for (let i = 0; i < text.length && plain; i++) {
    const code = text.charCodeAt(i);
    plain = (code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a) ||
      (code >= 0x30 && code <= 0x39) || "/\\._-:@+".includes(text[i]);
  }
  if (plain) return text;
  if (os === "windows") return `"${text}"`;
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
