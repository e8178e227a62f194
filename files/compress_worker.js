/**
 * A compression thread of the pool in `compress_pool.ts`. In Deno,
 * `node:zlib` does all its work on the calling thread, async functions and
 * streams included, so every CPU-heavy step (whole-buffer compression,
 * streaming compression, SHA-256, bcrypt) runs here instead of on the
 * event loop.
 *
 * Messages are the pool's `PoolRequest`s; each one that carries an `id` is
 * answered by exactly one `PoolReply` with that `id` (see
 * `compress_pool.ts`). A stream's zlib state lives here, in `openStreams`,
 * from `open` until `end` or `abort`.
 *
 * Plain JavaScript on purpose: `deno test` type-checks a TypeScript worker
 * when it starts, which took 1–3 s on our machines and made the first
 * compressing request of a test run time out. Its behaviour is covered by
 * `compress_pool_test.ts`.
 *
 * @module
 */

import os from "node:os";
import process from "node:process";
import zlib from "node:zlib";

/** The nice value of compression threads (the event loop keeps 0). */
export const THREAD_NICE = 10;

/**
 * Makes this thread yield the CPU to the event loop: on a busy machine the
 * kernel would otherwise share a core equally between them, and clients
 * would wait for compression after all. On Linux the nice value is per
 * thread. Needs `--allow-sys=setPriority`, and is checked first so that
 * Deno never prompts for it; without it the thread keeps normal priority.
 */
function lowerPriority() {
  try {
    const status = Deno.permissions.querySync({
      name: "sys",
      kind: "setPriority",
    });
    if (status.state === "granted") os.setPriority(THREAD_NICE);
  } catch {
    // Not supported here: normal priority.
  }
}

lowerPriority();

/**
 * Compresses a whole buffer; the levels favour speed with a good ratio.
 *
 * @param {Uint8Array} bytes
 * @param {string} coding `br`, `zstd` or `gzip`
 * @returns {Uint8Array}
 */
export function compressWhole(bytes, coding) {
  switch (coding) {
    case "gzip":
      return zlib.gzipSync(bytes, { level: 6 });
    case "br":
      return zlib.brotliCompressSync(bytes, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: 5,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
          // A window just large enough for the input: the same output,
          // without the 4 MiB ring buffer the default window allocates.
          [zlib.constants.BROTLI_PARAM_LGWIN]: windowBits(bytes.length),
        },
      });
    case "zstd":
      return zlib.zstdCompressSync(bytes);
    default:
      throw new Error(`unsupported coding ${coding}`);
  }
}

/**
 * The smallest brotli window (log2 of its size, 10 to 22) that holds
 * `length` bytes.
 *
 * @param {number} length
 * @returns {number}
 */
export function windowBits(length) {
  let bits = 10;
  while (bits < 22 && 1 << bits < length) bits++;
  return bits;
}

/**
 * A streaming compressor: a lower quality for br keeps large files fast,
 * and a 1 MiB window (instead of 4 MiB) holds a stream's state to about a
 * third of the memory for a ratio within a few per cent on large text.
 *
 * @param {string} coding
 */
function createCompressor(coding) {
  switch (coding) {
    case "gzip":
      return zlib.createGzip({ level: 6 });
    case "br":
      return zlib.createBrotliCompress({
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: 4,
          [zlib.constants.BROTLI_PARAM_LGWIN]: 20,
        },
      });
    case "zstd":
      return zlib.createZstdCompress();
    default:
      throw new Error(`unsupported coding ${coding}`);
  }
}

/**
 * One stream's compressor (null when it could not be made, see `error`),
 * the output it produced since the last reply, its first error (every
 * later request fails with it), and a promise that settles once the
 * compressor has emitted everything.
 *
 * @typedef {{
 *   compressor: ReturnType<typeof createCompressor> | null,
 *   output: Uint8Array[],
 *   error: Error | undefined,
 *   finished: Promise<void>,
 * }} StreamState
 */

/**
 * The streams open on this thread, by the pool's stream number.
 *
 * @type {Map<number, StreamState>}
 */
const openStreams = new Map();

/** How many streams hold state on this thread (for tests and monitoring). */
export function openStreamCount() {
  return openStreams.size;
}

/**
 * @param {number} stream
 * @param {string} coding
 */
function openStream(stream, coding) {
  let compressor;
  try {
    compressor = createCompressor(coding);
  } catch (err) {
    // Reported by the stream's first push or end.
    openStreams.set(stream, {
      compressor: null,
      output: [],
      error: /** @type {Error} */ (err),
      finished: Promise.resolve(),
    });
    return;
  }
  /** @type {StreamState} */
  const state = {
    compressor,
    output: [],
    error: undefined,
    finished: new Promise((resolve) => {
      compressor.on("end", resolve);
      compressor.on("close", resolve);
    }),
  };
  compressor.on("data", (chunk) => state.output.push(chunk));
  compressor.on("error", (err) => state.error ??= err);
  openStreams.set(stream, state);
}

/**
 * Everything the stream produced so far, as one new buffer: zlib's output
 * chunks may be views of buffers it reuses, which must never be transferred.
 *
 * @param {StreamState} state
 * @returns {Uint8Array}
 */
function takeOutput(state) {
  const parts = state.output;
  state.output = [];
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * A buffer that can be transferred: a view of part of a larger buffer is
 * copied, so that only the bytes of the answer move.
 *
 * @param {Uint8Array} bytes
 * @returns {Uint8Array}
 */
function copyIfShared(bytes) {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes
    : bytes.slice();
}

/**
 * Resolves after the stream's pending `data` events have been delivered:
 * a stream emits a chunk's output on the next tick after the write
 * completes. (Not a timer: `setTimeout(0)` costs about 2 ms.) Output that
 * comes later still is sent with the next reply.
 *
 * @returns {Promise<void>}
 */
function nextTick() {
  return new Promise((resolve) => process.nextTick(resolve));
}

/**
 * @param {number} stream
 * @param {Uint8Array} bytes
 * @returns {Promise<Uint8Array>}
 */
async function pushToStream(stream, bytes) {
  const state = openStreams.get(stream);
  if (state === undefined) throw new Error(`no stream ${stream}`);
  const compressor = state.compressor;
  if (state.error !== undefined || compressor === null) throw state.error;
  await new Promise((resolve, reject) => {
    compressor.write(bytes, (err) => err ? reject(err) : resolve(undefined));
  });
  await nextTick();
  if (state.error !== undefined) throw state.error;
  return takeOutput(state);
}

/**
 * @param {number} stream
 * @returns {Promise<Uint8Array>}
 */
async function endStream(stream) {
  const state = openStreams.get(stream);
  if (state === undefined) throw new Error(`no stream ${stream}`);
  try {
    if (state.error !== undefined || state.compressor === null) {
      throw state.error;
    }
    state.compressor.end();
    await state.finished;
    if (state.error !== undefined) throw state.error;
    return takeOutput(state);
  } finally {
    openStreams.delete(stream);
    state.compressor?.destroy();
  }
}

/** @param {number} stream */
function abortStream(stream) {
  const state = openStreams.get(stream);
  if (state === undefined) return;
  openStreams.delete(stream);
  state.compressor?.destroy();
}

/**
 * @param {Uint8Array} bytes
 * @returns {Promise<Uint8Array>}
 */
async function digest(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/**
 * bcryptjs, imported at the first password check: a server without
 * `--auth-file` bcrypt users never loads it.
 *
 * @type {Promise<typeof import("bcryptjs")> | undefined}
 */
let bcryptModule;

/**
 * The bcrypt hash of `password` with `salt` (`$2y$NN$` and 22 characters),
 * as the bytes of its 60 ASCII characters.
 *
 * @param {string} password
 * @param {string} salt
 * @returns {Promise<Uint8Array>}
 */
async function bcryptHash(password, salt) {
  bcryptModule ??= import("bcryptjs");
  const bcrypt = await bcryptModule;
  return new TextEncoder().encode(bcrypt.hashSync(password, salt));
}

/**
 * Runs one request; the answer, if the request expects one.
 *
 * @param {import("./compress_pool.ts").PoolRequest} request
 * @returns {Promise<Uint8Array> | undefined}
 */
function handle(request) {
  switch (request.kind) {
    case "compress":
      return Promise.resolve().then(() =>
        compressWhole(request.bytes, request.coding)
      );
    case "digest":
      return digest(request.bytes);
    case "bcrypt":
      return bcryptHash(request.password, request.salt);
    case "open":
      openStream(request.stream, request.coding);
      return undefined;
    case "push":
      return pushToStream(request.stream, request.bytes);
    case "end":
      return endStream(request.stream);
    case "abort":
      abortStream(request.stream);
      return undefined;
  }
}

/**
 * Posts an answer, transferring its bytes rather than copying them.
 *
 * @param {import("./compress_pool.ts").PoolReply} message
 */
function reply(message) {
  if ("bytes" in message) {
    const bytes = copyIfShared(message.bytes);
    self.postMessage({ id: message.id, bytes }, [bytes.buffer]);
  } else {
    self.postMessage(message);
  }
}

/**
 * Runs one message from the pool and posts its answer when it has one.
 *
 * @param {MessageEvent<import("./compress_pool.ts").PoolRequest>} event
 */
export function onPoolMessage(event) {
  const request = event.data;
  const answer = handle(request);
  if (answer === undefined || !("id" in request)) return;
  const id = request.id;
  answer.then(
    (bytes) => reply({ id, bytes }),
    (err) => reply({ id, error: String(err?.message ?? err) }),
  );
}

self.onmessage = onPoolMessage;
