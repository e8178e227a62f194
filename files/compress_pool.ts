/**
 * A small pool of worker threads for CPU-heavy work: compression made on
 * the fly, SHA-256 digests and bcrypt password checks. In Deno 2.9,
 * `node:zlib` (async functions and Transform streams alike) and
 * `crypto.subtle.digest` run on the calling thread, so on pws's single
 * event loop one brotli download of a large file used to stall every other
 * client for seconds; bcrypt (bcryptjs, plain JavaScript) costs tens of
 * milliseconds per password on purpose.
 *
 * - Threads start at first use (a server that never compresses starts
 *   none), at most {@linkcode defaultThreadCount} of them, and each exits
 *   after {@linkcode DEFAULT_IDLE_MS} without work, so an idle server holds
 *   no extra memory (a thread costs about 12–16 MiB).
 * - Whole-buffer jobs wait here, uncopied, in a bounded queue; each thread
 *   is handed at most {@linkcode WHOLE_JOBS_PER_THREAD} at a time. Their
 *   input is copied to the thread (callers keep it, e.g. in the hot-file
 *   cache); every output is transferred back without a copy.
 * - Streams keep their zlib state in one thread; a stream has at most one
 *   chunk in flight, whose buffer is transferred, and at most
 *   {@linkcode STREAMS_PER_THREAD} per thread are open at once (about 12
 *   MiB each for brotli with its 1 MiB window, less for zstd and gzip);
 *   more wait for a slot, and responders that find none free send
 *   identity instead.
 * - A thread that dies fails its jobs and streams with
 *   {@linkcode CompressionThreadError}; the next job starts a new one.
 *
 * @module
 */

import {
  CompressionThreadError,
  type CompressStream,
  PoolStream,
} from "./compress_stream.ts";

export { CompressionThreadError, type CompressStream };

/** A message from the pool to a compression thread. */
export type PoolRequest =
  | { kind: "compress"; id: number; coding: string; bytes: Uint8Array }
  | { kind: "digest"; id: number; bytes: Uint8Array }
  | { kind: "bcrypt"; id: number; password: string; salt: string }
  | { kind: "open"; stream: number; coding: string }
  | { kind: "push"; id: number; stream: number; bytes: Uint8Array }
  | { kind: "end"; id: number; stream: number }
  | { kind: "abort"; stream: number };

/** The answer to a request with an `id`: bytes, or why there are none. */
export type PoolReply =
  | { id: number; bytes: Uint8Array }
  | { id: number; error: string };

/** Threads exit after this long without jobs or open streams. */
export const DEFAULT_IDLE_MS = 30_000;

/**
 * Streams open at once per thread. Each holds a compressor in its thread:
 * about 50 MiB for brotli (Deno's encoder at quality 4 with a 4 MiB
 * window), 11 MiB for zstd, 8 MiB for gzip, so this bounds that memory.
 */
export const STREAMS_PER_THREAD = 4;

/** Jobs and stream openings that may wait; more are refused. */
export const DEFAULT_MAX_WAITING = 4096;

/**
 * Whole-buffer jobs handed to one thread at once: two keep it busy (the
 * next is there when one finishes) while the rest wait here, uncopied.
 */
export const WHOLE_JOBS_PER_THREAD = 2;

/**
 * How many threads to run at most for `cores` CPU cores: one core is left
 * to the event loop, since compression threads on every core would compete
 * with it and bring back the latency they exist to remove; at most 4,
 * since each thread holds 12–16 MiB and four cores of compression already
 * fill a fast link.
 */
export function defaultThreadCount(
  cores: number = navigator.hardwareConcurrency ?? 1,
): number {
  return Math.min(4, Math.max(1, cores - 1));
}

/** Thrown when the pool's queue is full: the job was not accepted. */
export class CompressionBusyError extends Error {
  constructor() {
    super("compression queue full");
    this.name = "CompressionBusyError";
  }
}

/** Options of {@linkcode CompressPool}. */
export interface CompressPoolOptions {
  /** Threads at most (default {@linkcode defaultThreadCount}). */
  maxThreads?: number;
  /** Idle time after which a thread exits (default 30 s). */
  idleMs?: number;
  /** Streams open at once (default 4 per thread). */
  maxStreams?: number;
  /** Waiting jobs and stream openings (default 4096). */
  maxWaiting?: number;
  /** The thread's module (default `./compress_worker.js`); for tests. */
  workerUrl?: string;
}

interface Pending {
  resolve(bytes: Uint8Array): void;
  reject(err: Error): void;
}

type WholeRequest = Extract<
  PoolRequest,
  { kind: "compress" | "digest" | "bcrypt" }
>;

interface WaitingJob extends Pending {
  request: WholeRequest;
}

/** One worker thread and what it is doing. */
class PoolThread {
  /** Replies awaited, by request id. */
  readonly pending = new Map<number, Pending>();
  /** Streams whose state lives here. */
  readonly streams = new Set<PoolStream>();
  wholeJobs = 0;
  dead = false;
  idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly worker: Worker) {}

  /** Jobs in flight plus open streams: how busy the thread is. */
  get load(): number {
    return this.pending.size + this.streams.size;
  }
}

/** A pool of compression threads; see the module documentation. */
export class CompressPool {
  readonly maxThreads: number;
  readonly idleMs: number;
  readonly maxStreams: number;
  readonly maxWaiting: number;
  readonly #workerUrl: string;
  #threads: PoolThread[] = [];
  #waitingJobs: WaitingJob[] = [];
  #waitingStreams: (() => void)[] = [];
  #openStreams = 0;
  #nextId = 1;
  #threadsStarted = 0;

  constructor(options: CompressPoolOptions = {}) {
    this.maxThreads = options.maxThreads ?? defaultThreadCount();
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.maxStreams = options.maxStreams ??
      STREAMS_PER_THREAD * this.maxThreads;
    this.maxWaiting = options.maxWaiting ?? DEFAULT_MAX_WAITING;
    this.#workerUrl = options.workerUrl ??
      import.meta.resolve("./compress_worker.js");
  }

  /** Threads running now. */
  get threadCount(): number {
    return this.#threads.length;
  }

  /** Threads started since the pool was made (replacements included). */
  get threadsStarted(): number {
    return this.#threadsStarted;
  }

  /** Streams open now. */
  get openStreams(): number {
    return this.#openStreams;
  }

  /** Compresses `bytes` whole with `coding` (br, zstd or gzip). */
  compress(bytes: Uint8Array, coding: string): Promise<Uint8Array> {
    return this.#enqueue({ kind: "compress", id: 0, coding, bytes });
  }

  /** The SHA-256 digest of `bytes` (32 bytes). */
  digest(bytes: Uint8Array): Promise<Uint8Array> {
    return this.#enqueue({ kind: "digest", id: 0, bytes });
  }

  /**
   * The bcrypt hash of `password` with `salt` (the first 29 characters of
   * a `$2y$NN$…` hash, cost included): the 60-character hash, for the
   * caller to compare with the one it knows.
   */
  async bcrypt(password: string, salt: string): Promise<string> {
    const bytes = await this.#enqueue({
      kind: "bcrypt",
      id: 0,
      password,
      salt,
    });
    return new TextDecoder().decode(bytes);
  }

  /**
   * True when a stream can open without waiting: a responder that finds
   * every slot taken (slow clients hold them) sends identity instead of
   * making its client wait.
   */
  get hasFreeStream(): boolean {
    return this.#openStreams < this.maxStreams;
  }

  /**
   * Opens a stream compressing with `coding`; waits while
   * {@linkcode CompressPool.maxStreams} are open.
   */
  async openStream(coding: string): Promise<CompressStream> {
    if (this.#openStreams >= this.maxStreams) {
      if (this.#waitingCount() >= this.maxWaiting) {
        throw new CompressionBusyError();
      }
      // A stream that ends hands its slot over (see #releaseStream).
      await new Promise<void>((resolve) => this.#waitingStreams.push(resolve));
    } else {
      this.#openStreams++;
    }
    const thread = this.#pickThread((t) => t.streams.size);
    const number = this.#nextId++;
    const stream = new PoolStream(number, {
      request: (request) => this.#request(thread, request),
      post: (request) => {
        if (!thread.dead) this.#post(thread, request);
      },
      nextId: () => this.#nextId++,
      release: () => this.#releaseStream(thread, stream),
    });
    thread.streams.add(stream);
    this.#post(thread, { kind: "open", stream: number, coding });
    return stream;
  }

  /** Stops every thread; whatever is pending or waiting fails. */
  close(): void {
    const waiting = this.#waitingJobs;
    this.#waitingJobs = [];
    for (const job of waiting) {
      job.reject(new CompressionThreadError("compression pool closed"));
    }
    for (const thread of [...this.#threads]) {
      this.#fail(thread, "compression pool closed");
    }
  }

  /** Sends a request that expects a reply; settles with the reply. */
  #request(thread: PoolThread, request: PoolRequest): Promise<Uint8Array> {
    if (thread.dead) {
      return Promise.reject(
        new CompressionThreadError("compression thread died"),
      );
    }
    return new Promise((resolve, reject) => {
      if ("id" in request) thread.pending.set(request.id, { resolve, reject });
      this.#post(thread, request);
    });
  }

  /** Forgets a stream that ended or was dropped, freeing its slot. */
  #releaseStream(thread: PoolThread, stream: PoolStream): void {
    if (!thread.streams.delete(stream)) return;
    // Handed over directly, so that no newcomer takes it in between.
    const next = this.#waitingStreams.shift();
    if (next === undefined) this.#openStreams--;
    else next();
    this.#maybeIdle(thread);
  }

  #waitingCount(): number {
    return this.#waitingJobs.length + this.#waitingStreams.length;
  }

  #enqueue(request: WholeRequest): Promise<Uint8Array> {
    if (this.#waitingCount() >= this.maxWaiting) {
      return Promise.reject(new CompressionBusyError());
    }
    return new Promise((resolve, reject) => {
      this.#waitingJobs.push({ request, resolve, reject });
      this.#dispatch();
    });
  }

  /** Hands waiting whole-buffer jobs to threads that have room. */
  #dispatch(): void {
    while (this.#waitingJobs.length > 0) {
      const thread = this.#pickThread((t) => t.load, WHOLE_JOBS_PER_THREAD);
      if (thread === undefined) return;
      const job = this.#waitingJobs.shift()!;
      const id = this.#nextId++;
      thread.wholeJobs++;
      thread.pending.set(id, {
        resolve: (bytes) => {
          thread.wholeJobs--;
          job.resolve(bytes);
          this.#dispatch();
        },
        reject: (err) => {
          thread.wholeJobs--;
          job.reject(err);
          this.#dispatch();
        },
      });
      // The input is copied: callers keep their bytes.
      this.#post(thread, { ...job.request, id });
    }
  }

  /**
   * The least busy thread by `busyness`, or a new one while the pool may
   * grow and every thread has work. With `maxWhole`, threads already
   * holding that many whole-buffer jobs are skipped (undefined if all are).
   */
  #pickThread(busyness: (t: PoolThread) => number): PoolThread;
  #pickThread(
    busyness: (t: PoolThread) => number,
    maxWhole: number,
  ): PoolThread | undefined;
  #pickThread(
    busyness: (t: PoolThread) => number,
    maxWhole = Infinity,
  ): PoolThread | undefined {
    let best: PoolThread | undefined;
    for (const thread of this.#threads) {
      if (thread.wholeJobs >= maxWhole) continue;
      if (best === undefined || busyness(thread) < busyness(best)) {
        best = thread;
      }
    }
    const canGrow = this.#threads.length < this.maxThreads;
    if ((best === undefined || best.load > 0) && canGrow) {
      return this.#startThread();
    }
    return best;
  }

  #startThread(): PoolThread {
    const worker = new Worker(this.#workerUrl, { type: "module" });
    const thread = new PoolThread(worker);
    this.#threadsStarted++;
    this.#threads.push(thread);
    worker.onmessage = (event: MessageEvent<PoolReply>) => {
      const reply = event.data;
      const pending = thread.pending.get(reply.id);
      if (pending === undefined) return;
      thread.pending.delete(reply.id);
      if ("bytes" in reply) pending.resolve(reply.bytes);
      else pending.reject(new Error(reply.error));
      this.#maybeIdle(thread);
    };
    worker.onerror = (event: ErrorEvent) => {
      // Handled here: unhandled, it would be rethrown on the event loop.
      event.preventDefault();
      this.#fail(thread, `compression thread died: ${event.message}`);
    };
    worker.onmessageerror = () => {
      this.#fail(thread, "compression thread sent an unreadable message");
    };
    return thread;
  }

  #post(thread: PoolThread, request: PoolRequest): void {
    if (thread.idleTimer !== undefined) {
      clearTimeout(thread.idleTimer);
      thread.idleTimer = undefined;
    }
    if (request.kind === "push") {
      thread.worker.postMessage(request, [
        request.bytes.buffer as ArrayBuffer,
      ]);
    } else {
      thread.worker.postMessage(request);
    }
  }

  /** Starts the idle countdown of a thread that has nothing to do. */
  #maybeIdle(thread: PoolThread): void {
    if (thread.dead || thread.load > 0 || thread.idleTimer !== undefined) {
      return;
    }
    const timer = setTimeout(() => {
      thread.idleTimer = undefined;
      if (thread.load === 0) this.#remove(thread);
    }, this.idleMs);
    // Housekeeping, not work: the countdown must not hold the event loop open.
    Deno.unrefTimer(timer);
    thread.idleTimer = timer;
  }

  #remove(thread: PoolThread): void {
    thread.dead = true;
    if (thread.idleTimer !== undefined) clearTimeout(thread.idleTimer);
    thread.worker.terminate();
    this.#threads = this.#threads.filter((t) => t !== thread);
  }

  /** Ends a thread and fails everything that depended on it. */
  #fail(thread: PoolThread, message: string): void {
    if (thread.dead) return;
    this.#remove(thread);
    const pending = [...thread.pending.values()];
    thread.pending.clear();
    for (const stream of [...thread.streams]) {
      stream.broken = true;
      this.#releaseStream(thread, stream);
    }
    for (const p of pending) p.reject(new CompressionThreadError(message));
    // Jobs still waiting go to a new thread.
    this.#dispatch();
  }
}

/** The pool the server uses; it starts threads only when first used. */
export const compressionPool: CompressPool = new CompressPool();
