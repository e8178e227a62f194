/**
 * A minimal HTTP/2 client on pws's own frame layer and HPACK coder, for
 * the one kind of request `node:http2` refuses to send: a field repeated
 * whose name Node treats as single-valued (two `Authorization` or
 * `If-None-Match` field lines, say, which HTTP/1.1 tests send on purpose).
 * Requests without a repeated field name go through `node:http2` (`h2_client.ts`), whose
 * HTTP/2 stack is independent of pws's.
 *
 * It sends requests one after another on one connection, with windows so
 * large that it never needs to grant more, and bodies of at most one
 * initial window (64 KiB − 1).
 *
 * @module
 */

import {
  CLIENT_PREFACE,
  DEFAULT_INITIAL_WINDOW_SIZE,
  DEFAULT_MAX_FRAME_SIZE,
  FrameType,
  MAX_WINDOW_SIZE,
  SettingId,
} from "../http2/frame.ts";
import { FrameReader } from "../http2/frame_reader.ts";
import { FrameWriter } from "../http2/frame_writer.ts";
import { HeaderBlockDecoder } from "../http2/hpack/decoder.ts";
import { HeaderBlockEncoder } from "../http2/hpack/encoder.ts";
import type {
  H2ExchangeOptions,
  H2ExchangeResult,
  H2Request,
  H2Response,
} from "./h2_client.ts";

/** The response being received on the current stream. */
interface Pending {
  id: number;
  status: number;
  fields: [string, string][];
  chunks: Uint8Array[];
  /** Field block fragments of a HEADERS still awaiting CONTINUATION. */
  block: Uint8Array[];
  done: (outcome: H2Response | Error) => void;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Sends `requests` in order on one connection (h2c with prior knowledge,
 * or TLS with ALPN `h2` when `options.ca` is set), each once the previous
 * response is complete, and stops at the first that gets none. The same
 * contract as `h2Exchange`.
 */
export async function h2FrameExchange(
  port: number,
  requests: readonly H2Request[],
  options: H2ExchangeOptions = {},
): Promise<H2ExchangeResult> {
  const { hostname = "127.0.0.1", timeoutMs = 5000, ca } = options;
  const started = performance.now();
  for (const request of requests) {
    if ((request.body?.length ?? 0) > DEFAULT_INITIAL_WINDOW_SIZE) {
      throw new Error("h2FrameExchange sends bodies of one window at most");
    }
  }
  const conn = ca === undefined
    ? await Deno.connect({ hostname, port })
    : await Deno.connectTls({
      hostname,
      port,
      caCerts: [ca],
      alpnProtocols: ["h2"],
    });
  const reader = new FrameReader({ expectPreface: false });
  const fieldEncoder = new HeaderBlockEncoder();
  const fieldDecoder = new HeaderBlockDecoder({
    maxHeaderListSize: 1024 * 1024,
  });
  const writer = new FrameWriter();
  let pending: Pending | undefined;
  let failure: string | undefined;
  let socketClosed = false;

  const send = async (bytes: Uint8Array) => {
    for (let sent = 0; sent < bytes.length;) {
      sent += await conn.write(bytes.subarray(sent));
    }
  };
  const fail = (why: string) => {
    failure ??= why;
    pending?.done(new Error(why));
  };

  const handle = (control: FrameWriter) => {
    for (let event = reader.next(); event; event = reader.next()) {
      if (event.kind === "error") {
        fail(`frame error: ${event.error.reason}`);
        continue;
      }
      const frame = event.frame;
      switch (frame.type) {
        case FrameType.SETTINGS:
          if (!frame.ack) control.settingsAck();
          break;
        case FrameType.PING:
          if (!frame.ack) control.ping(frame.data, true);
          break;
        case FrameType.GOAWAY:
          if (pending !== undefined && frame.lastStreamId < pending.id) {
            fail(
              `GOAWAY code ${frame.errorCode}, last stream ${frame.lastStreamId}`,
            );
          }
          break;
        case FrameType.RST_STREAM:
          if (frame.streamId === pending?.id) {
            pending.done(
              new Error(
                `stream ${frame.streamId} reset, RST_STREAM code ${frame.errorCode}`,
              ),
            );
          }
          break;
        case FrameType.HEADERS:
        case FrameType.CONTINUATION: {
          if (frame.streamId !== pending?.id) break;
          pending.block.push(frame.fragment.slice());
          if (!frame.endHeaders) break;
          const decoded = fieldDecoder.decode(concat(pending.block));
          pending.block = [];
          if (decoded.kind !== "fields") {
            fail(`undecodable response fields: ${decoded.kind}`);
            break;
          }
          const status = Number(
            decoded.fields.find(([name]) => name === ":status")?.[1],
          );
          // Interim (1xx) heads are not the response.
          if (status >= 200 || pending.status !== 0) {
            if (pending.status === 0) {
              pending.status = status;
              pending.fields = decoded.fields
                .filter(([name]) => !name.startsWith(":"))
                .map(([name, value]) => [name, value]);
            }
          }
          if (frame.type === FrameType.HEADERS && frame.endStream) {
            complete(pending);
          }
          break;
        }
        case FrameType.DATA:
          if (frame.streamId !== pending?.id) break;
          pending.chunks.push(frame.data.slice());
          if (frame.endStream) complete(pending);
          break;
      }
    }
  };
  const complete = (p: Pending) => {
    if (p.status === 0) {
      p.done(new Error(`stream ${p.id} ended without a final response`));
    } else {
      p.done({ status: p.status, fields: p.fields, body: concat(p.chunks) });
    }
  };

  const readLoop = (async () => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        reader.push(buffer.slice(0, n));
        const control = new FrameWriter();
        handle(control);
        if (control.length > 0) await send(control.take());
      }
    } catch {
      // A reset or a close of our own ends reading like an end of stream.
    }
    socketClosed = true;
    fail("connection closed");
  })();

  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const responses: H2Response[] = [];
  let error: string | undefined;
  let timedOut = false;
  try {
    writer.settings([
      { id: SettingId.ENABLE_PUSH, value: 0 },
      { id: SettingId.INITIAL_WINDOW_SIZE, value: MAX_WINDOW_SIZE },
    ]);
    writer.windowUpdate(0, MAX_WINDOW_SIZE - DEFAULT_INITIAL_WINDOW_SIZE);
    await send(concat([CLIENT_PREFACE, writer.take()]));
    let id = 1;
    for (const request of requests) {
      const outcome = new Promise<H2Response | Error>((resolve) => {
        pending = {
          id,
          status: 0,
          fields: [],
          chunks: [],
          block: [],
          done: resolve,
        };
      });
      if (failure !== undefined) pending!.done(new Error(failure));
      const hasBody = (request.body?.length ?? 0) > 0;
      const block = fieldEncoder.encode([
        [":method", request.method],
        [":scheme", request.scheme ?? (ca === undefined ? "http" : "https")],
        [":authority", request.authority ?? `${hostname}:${port}`],
        [":path", request.path],
        ...(request.fields ?? []).map(([name, value]) =>
          [name.toLowerCase(), value] as const
        ),
      ]);
      writer.headers(id, block, {
        endStream: !hasBody,
        maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
      });
      const body = request.body ?? new Uint8Array(0);
      for (let at = 0; at < body.length; at += DEFAULT_MAX_FRAME_SIZE) {
        const end = Math.min(body.length, at + DEFAULT_MAX_FRAME_SIZE);
        writer.data(id, body.subarray(at, end), {
          endStream: end === body.length,
        });
      }
      await send(writer.take()).catch(() => {});
      const result = await Promise.race([outcome, timeout]);
      if (result === "timeout") {
        timedOut = true;
        break;
      }
      if (result instanceof Error) {
        error = result.message;
        break;
      }
      responses.push(result);
      id += 2;
    }
  } finally {
    pending = undefined;
  }
  let closedByServer = socketClosed || error === undefined;
  if (options.awaitServerClose && !timedOut && !socketClosed) {
    const outcome = await Promise.race([
      readLoop.then(() => "closed"),
      timeout,
    ]);
    timedOut = outcome === "timeout";
    closedByServer = outcome === "closed";
  }
  clearTimeout(timer);
  if (!socketClosed) {
    await send(new FrameWriter().goaway(0, 0).take()).catch(() => {});
  }
  try {
    conn.close();
  } catch {
    // already closed
  }
  await readLoop;
  return {
    responses,
    error,
    closedByServer: closedByServer && !timedOut,
    timedOut,
    elapsedMs: performance.now() - started,
  };
}
