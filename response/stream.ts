/**
 * Content produced while it is sent: a file compressed on the fly, read
 * in chunks and compressed on a thread of the compression pool
 * (files/compress_pool.ts), one chunk in flight, so memory stays bounded
 * and the event loop never compresses.
 *
 * @module
 */

import { compressionPool } from "../files/compress_pool.ts";
import { readAt } from "../files/open.ts";

/** Chunk size fed to a streaming compressor. */
const COMPRESS_CHUNK_BYTES = 64 * 1024;

/** Thrown when a file ends before the size it had when opened. */
export class TruncatedContent extends Error {}

/**
 * Compresses `size` bytes of `source` (bytes in memory or an open file's
 * descriptor) with `coding`, yielding compressed chunks (some may be
 * empty: compressors buffer). Throws {@linkcode TruncatedContent} when the
 * file ends early: without the last chunk the client sees the body as
 * incomplete.
 */
export async function* compressedStream(
  source: Uint8Array | number,
  size: number,
  coding: string,
): AsyncIterable<Uint8Array> {
  const stream = await compressionPool.openStream(coding);
  try {
    let position = 0;
    while (position < size) {
      const want = Math.min(COMPRESS_CHUNK_BYTES, size - position);
      // A fresh buffer each time: push() hands it over to the thread.
      const chunk = new Uint8Array(want);
      let n: number;
      if (typeof source === "number") {
        n = await readAt(source, chunk, position);
        if (n === 0) throw new TruncatedContent();
      } else {
        chunk.set(source.subarray(position, position + want));
        n = want;
      }
      position += n;
      yield await stream.push(chunk.subarray(0, n));
    }
    yield await stream.end();
  } finally {
    stream.abort();
  }
}
