/**
 * The local CA's files: read with the mode of the very file read, and
 * written so that no reader ever sees a partial file and no key is ever
 * readable by others.
 *
 * @module
 */

import { randomSerial } from "./leaf.ts";
import { MAX_PEM_FILE_BYTES, readErrorReason } from "./pem.ts";

/** A stored file's text and permission bits. */
export interface StoredFile {
  text: string;
  mode: number;
}

/**
 * Reads `path` if it exists: its text and mode, undefined if it does not
 * exist, or a line saying why it cannot be read. The mode comes from the
 * opened handle, so it is the mode of the very file whose text is read.
 */
export async function readIfPresent(
  path: string,
  what: string,
): Promise<StoredFile | undefined | string> {
  try {
    using file = await Deno.open(path, { read: true });
    const info = await file.stat();
    if (!info.isFile) return `${what} ${path}: is not a regular file`;
    if (info.size > MAX_PEM_FILE_BYTES) {
      return `${what} ${path}: is too large to be one`;
    }
    const bytes = new Uint8Array(info.size);
    let length = 0;
    while (length < bytes.length) {
      const count = await file.read(bytes.subarray(length));
      if (count === null) break;
      length += count;
    }
    const text = new TextDecoder().decode(bytes.subarray(0, length));
    return { text, mode: info.mode ?? 0 };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    return `${what} ${path}: ${readErrorReason(error)}`;
  }
}

/**
 * Writes `text` to `path` unless `path` exists, never leaving a partial
 * file there: the text goes to a new temporary file created with `mode`
 * (so a key is never readable by others, not even for an instant), is
 * synced, then hard-linked into place, which fails if `path` appeared
 * meanwhile. True when this call published it; false when `path` exists.
 */
export async function publish(
  path: string,
  text: string,
  mode: number,
): Promise<boolean> {
  const temporary = `${path}.${randomSerial().slice(0, 12)}.tmp`;
  try {
    {
      using file = await Deno.open(temporary, {
        write: true,
        createNew: true,
        mode,
      });
      const bytes = new TextEncoder().encode(text);
      let written = 0;
      while (written < bytes.length) {
        written += await file.write(bytes.subarray(written));
      }
      await file.syncData();
    }
    await Deno.link(temporary, path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw error;
  } finally {
    await Deno.remove(temporary).catch(() => {});
  }
}

/** `dir` joined with a file name, with the platform's separator. */
export function joinPath(dir: string, name: string): string {
  const separator = Deno.build.os === "windows" ? "\\" : "/";
  return dir.endsWith("/") || dir.endsWith(separator)
    ? dir + name
    : dir + separator + name;
}
