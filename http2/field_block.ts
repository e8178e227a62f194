/**
 * A field block arriving in pieces: a HEADERS frame without END_HEADERS
 * and the CONTINUATION frames that complete it (RFC 9113 §4.3). The
 * pieces are copied out of the read buffer as they come, up to a bound
 * on bytes and on frames: "headers that never end" (the CONTINUATION
 * flood family, CVE-2024-27316) meet it long before they cost memory or
 * time. The frame reader already checks that nothing else interleaves.
 *
 * @module
 */

import type { PrioritySignal } from "./frame.ts";

/** Most CONTINUATION frames one block may take. */
export const MAX_CONTINUATIONS = 64;

/** What the HEADERS frame that opened a block said besides its fragment. */
export interface BlockStart {
  streamId: number;
  endStream: boolean;
  priority: PrioritySignal | null;
}

/** A field block being collected. */
export class PendingFieldBlock {
  #pieces: Uint8Array[] = [];
  #bytes = 0;
  #continuations = 0;
  /** When its HEADERS frame arrived (ms): it must end in time. */
  readonly since: number;

  /** Starts a block with the HEADERS frame's fragment (copied). */
  constructor(
    readonly start: BlockStart,
    fragment: Uint8Array,
    readonly maxBytes: number,
    now: number,
  ) {
    this.since = now;
    this.#pieces.push(fragment.slice());
    this.#bytes = fragment.length;
  }

  /** Bytes collected so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Adds a CONTINUATION's fragment (copied). Returns false, keeping
   * nothing more, when the block would exceed its bounds.
   */
  add(fragment: Uint8Array): boolean {
    this.#continuations++;
    if (
      this.#continuations > MAX_CONTINUATIONS ||
      this.#bytes + fragment.length > this.maxBytes
    ) {
      this.#pieces = [];
      return false;
    }
    this.#pieces.push(fragment.slice());
    this.#bytes += fragment.length;
    return true;
  }

  /** The whole block, once END_HEADERS arrived. */
  join(): Uint8Array {
    if (this.#pieces.length === 1) return this.#pieces[0];
    const block = new Uint8Array(this.#bytes);
    let offset = 0;
    for (const piece of this.#pieces) {
      block.set(piece, offset);
      offset += piece.length;
    }
    return block;
  }
}
