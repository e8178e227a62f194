/**
 * Content codings pws produces itself (gzip, brotli, zstd via node:zlib,
 * on the threads of `compress_pool.ts`): in memory for small files, cached
 * and bounded; large ones stream through `compressionPool.openStream`.
 * Also the pure choice of which representation to send.
 *
 * @module
 */

import { chooseEncoding } from "../http/accept_encoding.ts";
import { compressionPool } from "./compress_pool.ts";

/** Codings pws can produce on the fly, in the server's preference order. */
export const DYNAMIC_CODINGS = ["br", "zstd", "gzip"] as const;

/** Precompressed sidecar suffixes, in the server's preference order. */
export const SIDECAR_CODINGS: readonly { coding: string; suffix: string }[] = [
  { coding: "br", suffix: ".br" },
  { coding: "zstd", suffix: ".zst" },
  { coding: "gzip", suffix: ".gz" },
];

/** Smaller files are sent as they are: compression would gain nothing. */
export const MIN_COMPRESS_BYTES = 1024;

/** Files up to this size are compressed in memory and cached. */
export const MAX_BUFFERED_COMPRESS_BYTES = 1024 * 1024;

/** The representation chosen for a response. */
export interface RepresentationChoice {
  /** `identity`, or the content coding applied. */
  coding: string;
  /** Where the bytes come from. */
  source: "identity" | "sidecar" | "dynamic";
}

/** What {@linkcode chooseRepresentation} decides from. */
export interface RepresentationInput {
  /** The request's Accept-Encoding, if any. */
  acceptEncoding: string | undefined;
  /** Codings of the sidecar files that exist beside the file. */
  sidecars: readonly string[];
  /** Whether the media type is worth compressing. */
  compressible: boolean;
  /** The identity size in bytes. */
  size: number;
  /** True when a range will be served: ranges apply to identity only. */
  rangeRequested: boolean;
  /** False when the response cannot be chunked (HTTP/1.0). */
  canStream: boolean;
}

const IDENTITY: RepresentationChoice = {
  coding: "identity",
  source: "identity",
};

/**
 * Chooses the representation to send. Ranges are always served from the
 * identity representation (a byte range of a compressed stream made on the
 * fly would not be stable). Sidecars win over dynamic compression: they
 * were made ahead, usually at a higher level.
 */
export function chooseRepresentation(
  input: RepresentationInput,
): RepresentationChoice {
  if (input.rangeRequested || input.acceptEncoding === undefined) {
    return IDENTITY;
  }
  if (input.sidecars.length > 0) {
    const coding = chooseEncoding(input.acceptEncoding, input.sidecars);
    if (coding !== null && coding !== "identity") {
      return { coding, source: "sidecar" };
    }
  }
  if (!input.compressible || input.size < MIN_COMPRESS_BYTES) return IDENTITY;
  if (input.size > MAX_BUFFERED_COMPRESS_BYTES && !input.canStream) {
    return IDENTITY;
  }
  const coding = chooseEncoding(input.acceptEncoding, DYNAMIC_CODINGS);
  if (coding === null || coding === "identity") return IDENTITY;
  return { coding, source: "dynamic" };
}

/**
 * Compresses bytes with `coding` (br, zstd or gzip) on a thread of the
 * compression pool, never on the event loop. `bytes` is copied to the
 * thread and stays the caller's. Levels favour speed with a good ratio, as
 * a dynamic server should.
 */
export function compressBytes(
  bytes: Uint8Array,
  coding: string,
): Promise<Uint8Array> {
  return compressionPool.compress(bytes, coding);
}

/**
 * A byte-bounded cache of compressed variants, least recently used out
 * first. Keys include the identity ETag, so a changed file never hits a
 * stale entry (the old one simply ages out).
 */
export class CompressedCache {
  #entries = new Map<string, Uint8Array>();
  #bytes = 0;

  constructor(readonly maxBytes: number) {}

  /** Total bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Returns the entry and marks it recently used. */
  get(key: string): Uint8Array | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  /** Stores an entry, evicting the least recently used to stay in bounds. */
  set(key: string, value: Uint8Array): void {
    if (value.length > this.maxBytes) return;
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#bytes -= old.length;
      this.#entries.delete(key);
    }
    this.#entries.set(key, value);
    this.#bytes += value.length;
    for (const [k, v] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(k);
      this.#bytes -= v.length;
    }
  }
}
