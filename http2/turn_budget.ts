/**
 * Bounding the work one connection does per turn of the event loop. One
 * read of 16 KiB can hold four hundred HEADERS (or HEADERS and
 * RST_STREAM pairs, the rapid reset attack): decoding them all, and
 * starting every responder inside that read (each resolves a path, opens
 * and verifies a file, builds a reply), held the loop for tens of
 * milliseconds while other connections waited. So frames are handled in
 * slices of {@linkcode SLICE_WORK} (a field block costs
 * {@linkcode FIELD_BLOCK_WORK}, any other frame 1), and responders start
 * at most {@linkcode STARTS_PER_TURN} per turn (and
 * {@linkcode MAX_RUNNING_RESPONDERS} at once) from a
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
 * Responders one connection runs at once. Each may hold an open file
 * until its response is out, and a client that leaves its windows at
 * zero keeps every stream waiting until the write timeout: without this
 * bound, 128 streams held 128 descriptors per connection and a few
 * connections took them all. Other requests wait for a slot, most urgent
 * first; only the stalling client's own connection waits.
 */
export const MAX_RUNNING_RESPONDERS = 16;

/** A responder waiting to start. */
interface Waiting {
  /** Starts it; false when there was nothing to start. */
  start: () => boolean;
  /** Its urgency now (0 first, RFC 9218), read when a slot frees. */
  urgency: () => number;
}

/**
 * Responders waiting to start: at most {@linkcode STARTS_PER_TURN} start
 * a turn, at most {@linkcode MAX_RUNNING_RESPONDERS} run at once, the
 * most urgent (then the oldest) first. A job that finds its stream over
 * starts nothing and counts for nothing.
 */
export class StartQueue {
  #waiting: Waiting[] = [];
  #running = 0;
  #scheduled = false;

  /** Responders waiting to start. */
  get size(): number {
    return this.#waiting.length;
  }

  /** Responders running now. */
  get running(): number {
    return this.#running;
  }

  /**
   * Queues a responder. It starts when the connection's current slice of
   * frames is handled (so a stream reset in the same slice never
   * starts), or in a later turn; {@linkcode finished} must follow once
   * it started and settled.
   */
  push(start: () => boolean, urgency: () => number): void {
    this.#waiting.push({ start, urgency });
    this.#schedule();
  }

  /** A started responder settled: its slot is free. */
  finished(): void {
    this.#running--;
    if (this.#waiting.length > 0) this.#schedule();
  }

  /** Starts what the turn's and the connection's bounds allow now. */
  startSome(): void {
    const waiting = this.#waiting;
    let started = 0;
    while (
      waiting.length > 0 && started < STARTS_PER_TURN &&
      this.#running < MAX_RUNNING_RESPONDERS
    ) {
      // At most MAX_CONCURRENT_STREAMS wait: a scan is cheap.
      let best = 0;
      let bestUrgency = waiting[0].urgency();
      for (let i = 1; i < waiting.length; i++) {
        const urgency = waiting[i].urgency();
        if (urgency < bestUrgency) {
          best = i;
          bestUrgency = urgency;
        }
      }
      const job = waiting.splice(best, 1)[0];
      if (job.start()) {
        started++;
        this.#running++;
      }
    }
    if (waiting.length > 0 && this.#running < MAX_RUNNING_RESPONDERS) {
      this.#schedule();
    }
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
