/**
 * Helpers for the tests of `tls/`: a real TLS listener on loopback, and
 * commands run with their output captured.
 *
 * @module
 */

/** A certificate chain and its key, as PEM. */
export interface PemPair {
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
}

/**
 * Serves `pair` with `Deno.listenTls` on 127.0.0.1 (port 0), connects with
 * `Deno.connectTls` trusting only `caCerts`, and returns what the server
 * sent after the handshake ("hello over TLS"). The client verifies the
 * certificate for `serverName`: an IP address, or a name (then the socket
 * still goes to 127.0.0.1, and TLS starts with that name).
 */
export async function tlsHandshakeText(
  pair: PemPair,
  caCerts: string[],
  serverName = "127.0.0.1",
): Promise<string> {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: pair.cert,
    key: pair.key,
  });
  const served = (async () => {
    const conn = await listener.accept();
    try {
      await conn.handshake();
      await conn.write(new TextEncoder().encode("hello over TLS"));
    } finally {
      conn.close();
    }
  })();
  try {
    const port = listener.addr.port;
    const conn = serverName === "127.0.0.1"
      ? await Deno.connectTls({ hostname: serverName, port, caCerts })
      : await Deno.startTls(
        await Deno.connect({ hostname: "127.0.0.1", port }),
        { hostname: serverName, caCerts },
      );
    let text = "";
    try {
      await conn.handshake();
      const decoder = new TextDecoder();
      const buffer = new Uint8Array(1024);
      while (true) {
        const count = await conn.read(buffer).catch(() => null);
        if (count === null) break;
        text += decoder.decode(buffer.subarray(0, count), { stream: true });
      }
    } finally {
      conn.close();
    }
    await served;
    return text;
  } finally {
    listener.close();
    served.catch(() => {});
  }
}

/** Exit code and captured output of a command. */
export interface CommandResult {
  /** The exit code. */
  code: number;
  /** Standard output, as text. */
  stdout: string;
  /** Standard error, as text. */
  stderr: string;
}

/** Runs `command` with `args` and captures its output. */
export async function runCommand(
  command: string,
  args: string[],
  cwd?: string,
): Promise<CommandResult> {
  const out = await new Deno.Command(command, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}
