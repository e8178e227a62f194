/**
 * `--log-file`: the access log appended to a file, reopened on SIGHUP so
 * that logrotate can move it away (`mv access.log access.log.1`, then
 * `kill -HUP`) and pws goes on in a fresh file at the old name.
 *
 * The file is opened with `O_APPEND`: every write lands at the end even
 * when several threads (`--workers`) or processes append to one file, and
 * the access log writes whole lines only, one batch per write, so lines
 * never interleave mid-line.
 *
 * @module
 */

import type { LogSink } from "./log.ts";

/** An open log file: a sink that can be closed. */
export interface LogFileSink extends LogSink {
  close(): void;
}

/**
 * Opens `path` for appending, creating it (mode 0644, less the umask)
 * when missing. Throws with a one-line message when it cannot. The open
 * is one quick system call: it never holds up serving for long.
 */
export function openLogFile(path: string): LogFileSink {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, {
      append: true,
      create: true,
      mode: 0o644,
    });
  } catch (err) {
    const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new Error(`cannot open log file "${path}": ${why}`);
  }
  let closed = false;
  return {
    write: (bytes) => file.write(bytes),
    close() {
      if (closed) return;
      closed = true;
      try {
        file.close();
      } catch {
        // already closed
      }
    },
  };
}
