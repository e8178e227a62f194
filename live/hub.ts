/**
 * Live reload's server side: it hears the root watcher (files/watch.ts),
 * waits until writes settle, and tells every open event stream either to
 * swap stylesheets (only `.css` files changed) or to reload. Editors that
 * write a temporary file and rename it, and builds that write hundreds of
 * files, cause one message: a change is sent once no other change came
 * for {@linkcode SETTLE_MS}, or at the latest {@linkcode MAX_WAIT_MS}
 * after the first.
 *
 * Memory: at most {@linkcode MAX_LIVE_STREAMS} streams, each holding a few
 * queued messages at most; pending paths are bounded too.
 *
 * @module
 */

import type { WatchSubscriber } from "../files/watch.ts";
import type { IgnoreMatcher } from "./ignore.ts";

/** Quiet time after the last change before browsers are told. */
export const SETTLE_MS = 60;
/** Longest a change waits while others keep coming. */
export const MAX_WAIT_MS = 2000;
/** Open event streams at most (one per tab). */
export const MAX_LIVE_STREAMS = 1024;
/** A comment line sent this often finds streams whose client vanished. */
export const HEARTBEAT_MS = 15_000;
/** Changed paths remembered per batch; more means "reload". */
const MAX_PENDING_PATHS = 256;
/** Messages queued for one slow stream; more and it gets one reload. */
const MAX_QUEUED = 4;

const encoder = new TextEncoder();

/** One Server-Sent Events message (RFC-less, per the HTML standard). */
export function sseMessage(event: string, data: string): Uint8Array {
  return encoder.encode(`event: ${event}\ndata: ${data}\n\n`);
}

/** What a batch of settled changes tells browsers. */
export function messageFor(urlPaths: readonly string[] | "all"): Uint8Array {
  if (urlPaths !== "all" && urlPaths.every((p) => p.endsWith(".css"))) {
    return sseMessage("css", JSON.stringify(urlPaths));
  }
  return sseMessage("reload", "{}");
}

/** The URL path of a file under `rootReal`, percent-encoded per segment. */
export function urlPathOf(rootReal: string, path: string): string | undefined {
  if (path !== rootReal && !path.startsWith(rootReal + "/")) return undefined;
  const relative = path.slice(rootReal.length + 1);
  return "/" + relative.split("/").map(encodeURIComponent).join("/");
}

/** One browser tab's event stream. */
class LiveStream {
  #queue: Uint8Array[] = [];
  #wake: (() => void) | undefined;
  #ended = false;

  constructor(
    private readonly hub: LiveHub,
    private readonly hello: Uint8Array,
  ) {}

  push(message: Uint8Array): void {
    // A client that does not read gets one reload instead of a backlog.
    if (this.#queue.length >= MAX_QUEUED) {
      this.#queue = [sseMessage("reload", "{}")];
    } else this.#queue.push(message);
    this.#wakeUp();
  }

  end(): void {
    this.#ended = true;
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async *messages(): AsyncGenerator<Uint8Array> {
    try {
      yield this.hello;
      while (true) {
        while (this.#queue.length > 0) yield this.#queue.shift()!;
        if (this.#ended) return;
        await new Promise<void>((resolve) => this.#wake = resolve);
      }
    } finally {
      this.hub.forget(this);
    }
  }
}

/** The live reload hub of one server. */
export class LiveHub implements WatchSubscriber {
  readonly #rootReal: string;
  readonly #ignored: IgnoreMatcher;
  readonly #hello: Uint8Array;
  #streams = new Set<LiveStream>();
  #pending = new Set<string>();
  #overflow = false;
  #firstAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  /** Messages sent to browsers, by batch (for tests and the log). */
  batchesSent = 0;

  /** A hub for `rootReal`; `instanceId` tells restarts apart. */
  constructor(rootReal: string, ignored: IgnoreMatcher, instanceId: string) {
    this.#rootReal = rootReal;
    this.#ignored = ignored;
    // `retry` makes browsers reconnect quickly after a restart.
    this.#hello = encoder.encode(
      `retry: 500\nevent: hello\ndata: ${instanceId}\n\n`,
    );
  }

  /** True while a new stream would be taken. */
  get accepting(): boolean {
    return !this.#closed && this.#streams.size < MAX_LIVE_STREAMS;
  }

  /** Open streams. */
  get streams(): number {
    return this.#streams.size;
  }

  /**
   * A new event stream for one tab, or undefined when too many are open
   * or the server is shutting down.
   */
  open(): AsyncIterable<Uint8Array> | undefined {
    if (this.#closed || this.#streams.size >= MAX_LIVE_STREAMS) {
      return undefined;
    }
    const stream = new LiveStream(this, this.#hello);
    this.#streams.add(stream);
    if (this.#heartbeat === undefined) {
      const heartbeat = setInterval(() => {
        for (const s of this.#streams) s.push(encoder.encode(":\n\n"));
      }, HEARTBEAT_MS);
      Deno.unrefTimer(heartbeat);
      this.#heartbeat = heartbeat;
    }
    return stream.messages();
  }

  /** Called by a stream when it ends. */
  forget(stream: LiveStream): void {
    this.#streams.delete(stream);
    if (this.#streams.size === 0 && this.#heartbeat !== undefined) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }

  changed(paths: readonly string[]): void {
    if (this.#closed) return;
    let relevant = false;
    for (const path of paths) {
      const urlPath = urlPathOf(this.#rootReal, path);
      if (
        urlPath === undefined ||
        this.#ignored(path.slice(this.#rootReal.length + 1))
      ) {
        continue;
      }
      relevant = true;
      if (this.#pending.size < MAX_PENDING_PATHS) this.#pending.add(urlPath);
      else this.#overflow = true;
    }
    if (!relevant) return;
    const now = Date.now();
    if (this.#timer === undefined) this.#firstAt = now;
    else clearTimeout(this.#timer);
    const wait = Math.min(SETTLE_MS, this.#firstAt + MAX_WAIT_MS - now);
    this.#timer = setTimeout(() => this.#flush(), Math.max(0, wait));
  }

  lost(_reason: string): void {
    // The server logs it; open pages simply stop hearing of changes.
  }

  #flush(): void {
    this.#timer = undefined;
    const message = messageFor(this.#overflow ? "all" : [...this.#pending]);
    this.#pending.clear();
    this.#overflow = false;
    this.batchesSent++;
    for (const stream of this.#streams) stream.push(message);
  }

  /** Ends every stream (graceful shutdown) and refuses new ones. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    for (const stream of this.#streams) stream.end();
  }
}
