/**
 * The content of one HTTP/2 response as the output scheduler pulls it:
 * whatever the {@linkcode Content} (bytes, a file range, multipart parts,
 * a stream compressed on a pool thread), {@linkcode OutgoingBody.fill}
 * copies the next bytes into the frame being built, or says to wait.
 *
 * Bytes in memory and small file ranges are copied straight into the
 * frame (a positional read for the file, as the HTTP/1.1 writer does for
 * one chunk). Larger ranges are read ahead asynchronously, one chunk per
 * stream, into a buffer borrowed from a per-connection budget, so that a
 * slow disk never blocks the event loop and memory stays bounded however
 * many streams download. Compressed streams are pulled one chunk at a
 * time the same way.
 *
 * @module
 */

import { readAt, readFullyAt } from "../files/open.ts";
import type { Content } from "../response/reply.ts";
import { TruncatedContent } from "../response/stream.ts";

/** File ranges up to this size are read synchronously, as HTTP/1.1 does. */
export const SYNC_READ_BYTES = 64 * 1024;
/** Size of one read-ahead chunk of a large file range. */
export const READ_AHEAD_BYTES = 128 * 1024;

/** One piece of content: bytes in memory or a range of an open file. */
type Segment =
  | { kind: "bytes"; bytes: Uint8Array }
  | { kind: "file"; fd: number; position: number; length: number };

/** Read-ahead buffers returned after use, for the next chunk (≤ 4 MiB). */
const freeChunks: Uint8Array[] = [];
const MAX_FREE_CHUNKS = 32;

/** What {@linkcode OutgoingBody.fill} returns besides a byte count. */
export const WAIT = -1;

/**
 * Read-ahead buffers of one connection: at most `limit` bytes lent at
 * once, so that streams beyond it wait for one to be returned.
 */
export class ReadAheadBudget {
  #lent = 0;
  #waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  /** Lends `bytes`, or returns false (and calls `wake` once later). */
  borrow(bytes: number, wake: () => void): boolean {
    if (this.#lent > 0 && this.#lent + bytes > this.limit) {
      this.#waiting.push(wake);
      return false;
    }
    this.#lent += bytes;
    return true;
  }

  /** Returns `bytes` and wakes whoever waited. */
  giveBack(bytes: number): void {
    this.#lent -= bytes;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const wake of waiting) wake();
  }

  /** Bytes lent now. */
  get lent(): number {
    return this.#lent;
  }
}

/**
 * The content of one response, consumed in order by the scheduler. Never
 * holds more than one read-ahead chunk; `cancel` stops it and releases
 * everything once no read is in flight.
 */
export class OutgoingBody {
  readonly #segments: Segment[];
  #segmentIndex = 0;
  /** Bytes read ahead and not yet sent. */
  #chunk: Uint8Array | undefined;
  #chunkOffset = 0;
  #borrowed = 0;
  /** The read-ahead buffer the chunk is a view of, to return to the pool. */
  #chunkBuffer: Uint8Array | undefined;
  #iterator: AsyncIterator<Uint8Array> | undefined;
  #pending = false;
  #finished = false;
  #failure: unknown;
  #cancelled = false;
  #settled: (() => void) | undefined;

  /**
   * `wake` is called when bytes a fill waited for are ready; `budget`
   * bounds read-ahead memory of the connection.
   */
  constructor(
    content: Content,
    readonly budget: ReadAheadBudget,
    readonly wake: () => void,
  ) {
    this.#segments = segmentsOf(content);
    if (content.kind === "stream") {
      this.#iterator = content.open()[Symbol.asyncIterator]();
    }
  }

  /** True once every byte was handed out. */
  get done(): boolean {
    return this.#finished;
  }

  /** An error met while producing content (the stream must be reset). */
  get failure(): unknown {
    return this.#failure;
  }

  /**
   * Copies up to `target.length` next bytes into `target` and returns how
   * many (0 once done), or {@linkcode WAIT}: bytes are on their way and
   * `wake` will be called. Check {@linkcode failure} after a 0.
   */
  fill(target: Uint8Array): number {
    if (this.#pending) return WAIT;
    if (this.#failure !== undefined) return 0;
    let written = 0;
    while (!this.#finished) {
      if (this.#chunk !== undefined) {
        if (written === target.length) break;
        const n = Math.min(
          target.length - written,
          this.#chunk.length - this.#chunkOffset,
        );
        target.set(
          this.#chunk.subarray(this.#chunkOffset, this.#chunkOffset + n),
          written,
        );
        written += n;
        this.#chunkOffset += n;
        if (this.#chunkOffset === this.#chunk.length) this.#dropChunk();
        continue;
      }
      if (this.#iterator !== undefined) {
        if (written > 0) break;
        this.#pull();
        return WAIT;
      }
      const segment = this.#segments[this.#segmentIndex];
      if (segment === undefined) {
        this.#finished = true;
        break;
      }
      if (segment.kind === "bytes") {
        // The bytes become the chunk: a view, copied only into frames.
        this.#segmentIndex++;
        if (segment.bytes.length > 0) {
          this.#chunk = segment.bytes;
          this.#chunkOffset = 0;
        }
        continue;
      }
      if (segment.length === 0) {
        this.#segmentIndex++;
        continue;
      }
      if (written === target.length) break;
      if (segment.length <= SYNC_READ_BYTES) {
        const want = Math.min(target.length - written, segment.length);
        const n = readFullyAt(
          segment.fd,
          target.subarray(written, written + want),
          segment.position,
        );
        if (n < want) return this.#fail(new TruncatedContent());
        written += n;
        segment.position += n;
        segment.length -= n;
        continue;
      }
      if (written > 0) break;
      this.#readAhead(segment);
      return WAIT;
    }
    return written;
  }

  /**
   * Stops producing: releases the read-ahead chunk and ends a compression
   * stream. Resolves once no read is in flight, so the caller may then
   * release the file.
   */
  cancel(): Promise<void> {
    this.#cancelled = true;
    this.#finished = true;
    const iterator = this.#iterator;
    this.#iterator = undefined;
    // A read in flight still writes into the chunk's buffer: it is
    // dropped when the read settles.
    if (!this.#pending) {
      this.#dropChunk();
      iterator?.return?.().catch(() => {});
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#settled = () => {
        iterator?.return?.().catch(() => {});
        resolve();
      };
    });
  }

  #fail(err: unknown): number {
    this.#failure = err;
    this.#finished = true;
    this.#dropChunk();
    return 0;
  }

  #dropChunk(): void {
    this.#chunk = undefined;
    this.#chunkOffset = 0;
    if (this.#chunkBuffer !== undefined) {
      if (freeChunks.length < MAX_FREE_CHUNKS) {
        freeChunks.push(this.#chunkBuffer);
      }
      this.#chunkBuffer = undefined;
    }
    if (this.#borrowed > 0) {
      this.budget.giveBack(this.#borrowed);
      this.#borrowed = 0;
    }
  }

  /** Called when an asynchronous read or pull has settled. */
  #arrived(): void {
    this.#pending = false;
    if (this.#cancelled) {
      this.#dropChunk();
      const settled = this.#settled;
      this.#settled = undefined;
      settled?.();
      return;
    }
    this.wake();
  }

  #readAhead(segment: Segment & { kind: "file" }): void {
    const size = Math.min(READ_AHEAD_BYTES, segment.length);
    // Over the budget: the budget calls wake when a chunk comes back.
    if (!this.budget.borrow(size, this.wake)) return;
    this.#borrowed = size;
    this.#pending = true;
    const buffer = freeChunks.pop() ?? new Uint8Array(READ_AHEAD_BYTES);
    this.#chunkBuffer = buffer;
    readAt(segment.fd, buffer.subarray(0, size), segment.position).then((n) => {
      if (n === 0) this.#fail(new TruncatedContent());
      else {
        this.#chunk = buffer.subarray(0, n);
        this.#chunkOffset = 0;
        segment.position += n;
        segment.length -= n;
      }
    }, (err) => {
      this.#fail(err);
    }).finally(() => this.#arrived());
  }

  #pull(): void {
    this.#pending = true;
    this.#iterator!.next().then((result) => {
      if (result.done) {
        this.#finished = true;
        this.#iterator = undefined;
      } else if (result.value.length > 0) {
        this.#chunk = result.value;
        this.#chunkOffset = 0;
      }
    }, (err) => {
      this.#iterator = undefined;
      this.#fail(err);
    }).finally(() => this.#arrived());
  }
}

/** The content as segments in the order they are sent. */
function segmentsOf(content: Content): Segment[] {
  switch (content.kind) {
    case "none":
    case "stream":
      return [];
    case "bytes":
      return [{ kind: "bytes", bytes: content.bytes }];
    case "file":
      return [{
        kind: "file",
        fd: content.fd,
        position: content.start,
        length: content.length,
      }];
    case "parts": {
      const segments: Segment[] = [];
      const source = content.source;
      for (const part of content.parts) {
        segments.push({ kind: "bytes", bytes: part.head });
        segments.push(
          typeof source === "number"
            ? {
              kind: "file",
              fd: source,
              position: part.start,
              length: part.length,
            }
            : {
              kind: "bytes",
              bytes: source.subarray(part.start, part.start + part.length),
            },
        );
      }
      segments.push({ kind: "bytes", bytes: content.tail });
      return segments;
    }
  }
}
