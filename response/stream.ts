/**
 * Content produced while it is sent: a file compressed on the fly, read
 * in chunks and handed to a compressor, with bounded memory (one chunk in
 * flight).
 *
 * @module
 */

import { once } from "node:events";
import { createCompressor } from "../files/compress.ts";
import { readAt } from "../files/open.ts";

/** Chunk size fed to a streaming compressor. */
const COMPRESS_CHUNK_BYTES = 64 * 1024;

/** Thrown when a file ends before the size it had when opened. */
export class TruncatedContent extends Error {}

/**
 * Compresses `size` bytes of `source` (bytes in memory or an open file's
 * descriptor) with `coding`, yielding compressed chunks. Throws
 * {@linkcode TruncatedContent} when the file ends early: without the
 * last chunk the client sees the body as incomplete.
 */
export async function* compressedStream(
  source: Uint8Array | number,
  size: number,
  coding: string,
): AsyncIterable<Uint8Array> {
  const compressor = createCompressor(coding);
  let truncated = false;
  const feed = (async () => {
    let position = 0;
    while (position < size) {
      const want = Math.min(COMPRESS_CHUNK_BYTES, size - position);
      let chunk: Uint8Array;
      if (typeof source === "number") {
        chunk = new Uint8Array(want);
        const n = await readAt(source, chunk, position);
        if (n === 0) {
          truncated = true;
          break;
        }
        chunk = chunk.subarray(0, n);
      } else {
        chunk = source.subarray(position, position + want);
      }
      position += chunk.length;
      if (!compressor.write(chunk)) await once(compressor, "drain");
    }
    compressor.end();
  })();
  feed.catch(() => compressor.destroy());
  try {
    for await (const out of compressor as AsyncIterable<Uint8Array>) {
      if (out.length > 0) yield out;
    }
    await feed;
  } finally {
    compressor.destroy();
  }
  if (truncated) throw new TruncatedContent();
}
