/**
 * Whole HTTP/2 requests over the raw frame client (`h2_raw.ts`, on pws's
 * own frame layer and HPACK coder), for the one kind of request
 * `node:http2` refuses to send: a field repeated whose name Node treats as
 * single-valued (two `Authorization` or `If-None-Match` field lines, say,
 * which HTTP/1.1 tests send on purpose). Requests without a repeated field
 * name go through `node:http2` (`h2_client.ts`), whose HTTP/2 stack is
 * independent of pws's.
 *
 * It sends requests one after another on one connection, with windows so
 * large that it never needs to grant more, and bodies of at most one
 * initial window (64 KiB − 1).
 *
 * @module
 */

import {
  DEFAULT_INITIAL_WINDOW_SIZE,
  DEFAULT_MAX_FRAME_SIZE,
  MAX_WINDOW_SIZE,
  SettingId,
} from "../http2/frame.ts";
import { FrameWriter, H2Client } from "./h2_raw.ts";
import type {
  H2ExchangeOptions,
  H2ExchangeResult,
  H2Request,
  H2Response,
} from "./h2_client.ts";

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
  const left = () => Math.max(0, started + timeoutMs - performance.now());
  for (const request of requests) {
    if ((request.body?.length ?? 0) > DEFAULT_INITIAL_WINDOW_SIZE) {
      throw new Error("h2FrameExchange sends bodies of one window at most");
    }
  }
  const c = await H2Client.open(port, {
    hostname,
    ca,
    keepData: true,
    // Windows wide open at once: nothing to give back as bytes arrive.
    settings: [
      { id: SettingId.ENABLE_PUSH, value: 0 },
      { id: SettingId.INITIAL_WINDOW_SIZE, value: MAX_WINDOW_SIZE },
    ],
    connectionWindowIncrement: MAX_WINDOW_SIZE - DEFAULT_INITIAL_WINDOW_SIZE,
    autoWindow: false,
  });
  const responses: H2Response[] = [];
  let error: string | undefined;
  let timedOut = false;
  for (const request of requests) {
    const id = c.nextStreamId;
    c.nextStreamId += 2;
    const view = c.view(id);
    const body = request.body ?? new Uint8Array(0);
    const block = c.encoder.encode([
      [":method", request.method],
      [":scheme", request.scheme ?? (ca === undefined ? "http" : "https")],
      [":authority", request.authority ?? `${hostname}:${port}`],
      [":path", request.path],
      ...(request.fields ?? []).map(([name, value]) =>
        [name.toLowerCase(), value] as [string, string]
      ),
    ]);
    const w = new FrameWriter().headers(id, block, {
      endStream: body.length === 0,
      maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
    });
    for (let at = 0; at < body.length; at += DEFAULT_MAX_FRAME_SIZE) {
      const end = Math.min(body.length, at + DEFAULT_MAX_FRAME_SIZE);
      w.data(id, body.subarray(at, end), { endStream: end === body.length });
    }
    await c.send(w);
    const failure = (): string | undefined => {
      if (view.resetCode !== undefined) {
        return `stream ${id} reset, RST_STREAM code ${view.resetCode}`;
      }
      const goaway = c.goaway;
      if (goaway !== undefined && goaway.lastStreamId < id) {
        return `GOAWAY code ${goaway.errorCode}, last stream ${goaway.lastStreamId}`;
      }
      if (c.readerErrors.length > 0) {
        return `frame error: ${c.readerErrors[0]}`;
      }
    };
    try {
      await c.waitFor(
        () => view.ended || failure() !== undefined,
        left(),
        `the response on stream ${id}`,
      );
    } catch {
      if (c.closed) error = failure() ?? "connection closed";
      else timedOut = true;
      break;
    }
    error = failure();
    if (error !== undefined) break;
    if (view.status === undefined || view.status < 200) {
      error = `stream ${id} ended without a final response`;
      break;
    }
    responses.push({
      status: view.status,
      fields: (view.fields ?? []).filter(([name]) => !name.startsWith(":")),
      body: concat(view.chunks ?? []),
    });
  }
  let closedByServer = c.closed || error === undefined;
  if (options.awaitServerClose && !timedOut && !c.closed) {
    try {
      await c.waitClosed(left());
      closedByServer = true;
    } catch {
      timedOut = !c.closed;
      closedByServer = c.closed;
    }
  }
  if (!c.closed) await c.send(new FrameWriter().goaway(0, 0));
  await c.close();
  return {
    responses,
    error,
    closedByServer: closedByServer && !timedOut,
    timedOut,
    elapsedMs: performance.now() - started,
  };
}
