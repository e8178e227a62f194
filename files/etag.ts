/**
 * Entity tags for files served from disk (RFC 9110 §8.8.3): derived from
 * file metadata, so no content has to be read or hashed, except for files
 * changed so recently that metadata cannot tell versions apart, which are
 * tagged by a digest of their content.
 *
 * @module
 */

import { compressionPool } from "./compress_pool.ts";

/** The file metadata an entity tag is derived from. */
export interface FileTagInfo {
  /** Size in bytes. */
  size: number;
  /** Last modification time, milliseconds since the epoch. */
  mtimeMs: number;
  /** Last status change time, milliseconds since the epoch. */
  ctimeMs: number;
  /** Inode number, or `null` where the platform has none (Windows). */
  ino: number | null;
}

/**
 * True when `variant` is one or more etagc characters (RFC 9110 §8.8.3)
 * other than DQUOTE, restricted to visible ASCII.
 */
function isVariant(variant: string): boolean {
  if (variant.length === 0) return false;
  for (let i = 0; i < variant.length; i++) {
    const c = variant.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x22) return false;
  }
  return true;
}

/** Hex digits of a metadata number; absent or non-finite values become 0. */
function hexField(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return "0";
  return Math.floor(value).toString(16);
}

/**
 * Returns a strong entity tag for a file, shaped
 * `"<ino>-<size>-<mtime>-<ctime>"` with each field in lowercase hex (a
 * missing inode is written as `0`), e.g. `"1a2b-400-18c5e1f0a00-18c5e1f0a00"`.
 *
 * Why this is safe to use as a STRONG validator: any write to the file
 * changes its size or mtime, and always changes its ctime, which the kernel
 * sets on every write and metadata change and which user space cannot set
 * back (unlike mtime, which tools such as `touch -d` or `rsync -t` restore).
 * Replacing the file by rename gives it a new inode. The limit: Deno
 * reports mtime to the millisecond but ctime only to the second, so two
 * same-size writes within one second whose mtime is put back (or that land
 * in the same millisecond) leave identical metadata. pws therefore tags such
 * recently changed files by content when it reads them whole (see
 * {@linkcode contentETag}).
 *
 * @param info Metadata from `Deno.stat`, with times converted to ms.
 * @param variant Distinguishes other representations of the same file, e.g.
 *   `"br"` or `"gzip"` for precompressed siblings; appended inside the quotes
 *   (`"…-br"`) so that each representation has its own tag.
 * @throws {TypeError} If `variant` is empty or holds a character that is not
 *   allowed inside an entity tag (DQUOTE, space, controls, non-ASCII).
 */
export function fileETag(info: FileTagInfo, variant?: string): string {
  const fields = [
    hexField(info.ino),
    hexField(info.size),
    hexField(info.mtimeMs),
    hexField(info.ctimeMs),
  ];
  if (variant !== undefined) {
    if (!isVariant(variant)) {
      throw new TypeError(
        `Invalid entity-tag variant: ${JSON.stringify(variant)}`,
      );
    }
    fields.push(variant);
  }
  return `"${fields.join("-")}"`;
}

/**
 * Returns a strong entity tag from a digest of the content, shaped
 * `"c<digest>[-variant]"`: used for files changed too recently for their
 * metadata to identify their content.
 */
export function contentETag(digestHex: string, variant?: string): string {
  if (variant !== undefined && !isVariant(variant)) {
    throw new TypeError(
      `Invalid entity-tag variant: ${JSON.stringify(variant)}`,
    );
  }
  return variant === undefined
    ? `"c${digestHex}"`
    : `"c${digestHex}-${variant}"`;
}

/**
 * Inputs up to this size are digested on the event loop: about 0.1 ms
 * here, less than a round trip to a pool thread and far less than starting
 * one (which stalls the event loop for 40–60 ms).
 */
export const INLINE_DIGEST_BYTES = 64 * 1024;

/**
 * The first 128 bits of the SHA-256 of `bytes`, in hex. In Deno 2.9
 * `crypto.subtle.digest` runs on the calling thread (about 4 ms per MiB
 * here), so inputs over {@linkcode INLINE_DIGEST_BYTES} are digested on a
 * thread of the compression pool, where they cannot stall other clients.
 */
export async function contentDigest(bytes: Uint8Array): Promise<string> {
  const digest = bytes.length <= INLINE_DIGEST_BYTES
    ? new Uint8Array(
      await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
    )
    : await compressionPool.digest(bytes);
  let hex = "";
  for (let i = 0; i < 16; i++) hex += digest[i].toString(16).padStart(2, "0");
  return hex;
}
