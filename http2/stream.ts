/**
 * One HTTP/2 stream as the server sees it (RFC 9113 §5.1): every stream
 * is opened by the client's HEADERS, so its life is open → half-closed
 * (remote, once the request ended) → closed (once the response ended), or
 * closed early by RST_STREAM from either side. Besides its state it holds
 * the flow-control window pws sends against, its priority, and the
 * response on its way out.
 *
 * @module
 */

import type { RequestHead } from "../http/request.ts";
import type { OutgoingBody } from "./body.ts";
import type { StreamPriority } from "./priority.ts";
import type { ResponseHeaders } from "../http/response.ts";

/** Thrown into a stream's responder when the stream or connection ended. */
export class StreamClosed extends Error {}

/** The state and output of one stream. */
export class Http2Stream {
  /** The client sent END_STREAM: the request is complete. */
  remoteClosed = false;
  /** The last frame of the response went out (or the stream was reset). */
  localClosed = false;
  /** Set when RST_STREAM was sent or received. */
  reset = false;
  /** The request, once its field block was accepted. */
  head: RequestHead | undefined;
  /** Request content bytes received (padding excluded). */
  receivedBytes = 0;
  /** The request's content-length, when it gave one. */
  expectedLength: number | undefined;
  /** When the response was blocked by a window of zero (0: it is not). */
  blockedSince = 0;
  /** True while the responder task runs (counts against concurrency). */
  busy = false;

  // Output side, driven by the output scheduler.
  /** Response fields waiting to be encoded into HEADERS, in wire form. */
  pendingFields: ResponseHeaders | undefined;
  /** The response content; undefined when the HEADERS end the stream. */
  body: OutgoingBody | undefined;
  /** True once the response HEADERS were written. */
  headersSent = false;
  /** True while the stream waits in the scheduler's data queue. */
  queued = false;
  /** True while its body fetches bytes (out of the queue meanwhile). */
  fetching = false;
  /** Status of the response, for the log (0 before one is chosen). */
  status = 0;
  /** Bytes written for this stream: frame headers, blocks and data. */
  bytesSent = 0;
  /** Bytes of the response body written (DATA payloads only). */
  bodyBytesSent = 0;
  /** When the request's first frame arrived (ms since the epoch). */
  readonly openedAt: number;

  #settle: { resolve(): void; reject(err: Error): void } | undefined;

  /**
   * A stream opened by the client, with the window the client's
   * SETTINGS_INITIAL_WINDOW_SIZE gives it.
   */
  constructor(
    readonly id: number,
    public sendWindow: number,
    public priority: StreamPriority,
    now: number,
  ) {
    this.openedAt = now;
  }

  /** True once neither side will send anything more. */
  get closed(): boolean {
    return this.reset || (this.remoteClosed && this.localClosed);
  }

  /**
   * Starts waiting for the response to be written: resolves when its last
   * frame is in the output, rejects with {@linkcode StreamClosed} when the
   * stream or connection ends first.
   */
  awaitSent(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
  }

  /** The response's last frame is out. */
  sent(): void {
    const settle = this.#settle;
    this.#settle = undefined;
    settle?.resolve();
  }

  /**
   * Ends the stream's output early: the body stops (any read in flight
   * settles first, so the file may be closed), and the responder's wait
   * fails.
   */
  async abandon(): Promise<void> {
    this.localClosed = true;
    this.pendingFields = undefined;
    const body = this.body;
    this.body = undefined;
    if (body !== undefined) await body.cancel();
    const settle = this.#settle;
    this.#settle = undefined;
    settle?.reject(new StreamClosed());
  }
}
