/**
 * Bounding the work one connection does per turn of the event loop. One
 * read of 16 KiB can hold four hundred HEADERS (or HEADERS and
 * RST_STREAM pairs, the rapid reset attack): decoding them all, and
 * starting every responder inside that read (each resolves a path, opens
 * and verifies a file, builds a reply), held the loop for tens of
 * milliseconds while other connections waited. So frames are handled in
 * slices of {@linkcode SLICE_WORK} (a field block costs
 * {@linkcode FIELD_BLOCK_WORK}, any other frame 1), and responders start
 * at most {@linkcode STARTS_PER_TURN} per turn from a
 * {@linkcode StartQueue}; between slices the connection yields with
 * {@linkcode nextTurn}, and other connections' I/O runs.
 *
 * @module
 */

/** Work units of one slice of frames. */
export const SLICE_WORK = 256;
/** Work units of a HEADERS frame: HPACK decoding, judging the request. */
export const FIELD_BLOCK_WORK = 16;
/** Responders started in one turn of the event loop. */
export const STARTS_PER_TURN = 8;

/**
 * Resolves in a later macrotask. Not a microtask, nor setImmediate or a
 * MessageChannel: Deno runs all of those before it polls sockets again,
 * so only a timer lets other connections' reads and writes go first.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Jobs started in order, at most {@linkcode STARTS_PER_TURN} a turn. A
 * job returns false when it had nothing to start (its stream ended while
 * it waited): those cost nothing and do not count.
 */
export class StartQueue {
  #jobs: (() => boolean)[] = [];
  #next = 0;
  #scheduled = false;

  /** Jobs waiting to start. */
  get size(): number {
    return this.#jobs.length - this.#next;
  }

  /**
   * Queues `job`. It starts when the connection's current slice of frames
   * is handled (so a stream reset in the same slice never starts), or in
   * a later turn.
   */
  push(job: () => boolean): void {
    this.#jobs.push(job);
    this.#schedule();
  }

  /** Starts up to {@linkcode STARTS_PER_TURN} jobs now; the rest later. */
  startSome(): void {
    const jobs = this.#jobs;
    let started = 0;
    while (this.#next < jobs.length && started < STARTS_PER_TURN) {
      const job = jobs[this.#next];
      this.#next++;
      if (job()) started++;
    }
    if (this.#next === jobs.length) {
      this.#jobs = [];
      this.#next = 0;
    } else this.#schedule();
  }

  /** Starts what waits in a later turn, when no slice of frames does. */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      this.startSome();
    }, 0);
  }
}
