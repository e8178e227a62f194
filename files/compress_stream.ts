/**
 * The streams of the compression pool (`compress_pool.ts`): a large body
 * compressed piece by piece on one pool thread, one call at a time.
 *
 * @module
 */

import type { PoolRequest } from "./compress_pool.ts";

/** Thrown when the thread running a job or holding a stream died. */
export class CompressionThreadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CompressionThreadError";
  }
}

/**
 * Compresses a large body piece by piece on one pool thread. One call at a
 * time: each `push` must settle before the next call.
 */
export interface CompressStream {
  /**
   * Compresses `chunk` and returns the output produced so far (often empty:
   * compressors buffer). The chunk's buffer is transferred to the thread,
   * so the caller must not use it again.
   */
  push(chunk: Uint8Array): Promise<Uint8Array>;
  /** Finishes the stream and returns the rest of the output. */
  end(): Promise<Uint8Array>;
  /** Drops the stream and its state; a no-op once it has ended. */
  abort(): void;
}

/** What a stream needs from its pool, bound to the stream's thread. */
export interface StreamLink {
  /** Sends a request that expects a reply; settles with the reply. */
  request(request: PoolRequest): Promise<Uint8Array>;
  /** Sends a request that has no reply. */
  post(request: PoolRequest): void;
  /** A fresh request id. */
  nextId(): number;
  /** Frees the stream's slot in the pool. */
  release(): void;
}

/** A stream of a `CompressPool`; its state lives in one thread. */
export class PoolStream implements CompressStream {
  /** Set when its thread died: every later call fails. */
  broken = false;
  #busy = false;
  #closed = false;

  /** `number` names the stream in its thread; `link` reaches its pool. */
  constructor(readonly number: number, readonly link: StreamLink) {}

  push(chunk: Uint8Array): Promise<Uint8Array> {
    return this.#call({
      kind: "push",
      id: this.link.nextId(),
      stream: this.number,
      bytes: chunk,
    });
  }

  async end(): Promise<Uint8Array> {
    try {
      return await this.#call({
        kind: "end",
        id: this.link.nextId(),
        stream: this.number,
      });
    } finally {
      this.#closed = true;
      this.link.release();
    }
  }

  abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.link.post({ kind: "abort", stream: this.number });
    this.link.release();
  }

  async #call(request: PoolRequest): Promise<Uint8Array> {
    if (this.broken) {
      throw new CompressionThreadError("compression thread died");
    }
    if (this.#closed) throw new Error("compression stream closed");
    if (this.#busy) throw new Error("one call at a time on a stream");
    this.#busy = true;
    try {
      return await this.link.request(request);
    } finally {
      this.#busy = false;
    }
  }
}
