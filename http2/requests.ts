/**
 * The request side of an HTTP/2 connection: field blocks become requests
 * (or stream errors), streams open, receive their (discarded) content,
 * close or are reset, and each complete request gets a responder task —
 * the same `respond` that serves HTTP/1.1, writing to an
 * {@linkcode Http2Sink}. Stream-state rules of RFC 9113 §5.1 that need
 * the connection's memory live here: which ids are idle, open, or closed
 * (and how), with no state kept per closed stream beyond a short list of
 * the most recent, so a client opening millions of streams costs nothing.
 *
 * @module
 */

import {
  type ContinuationFrame,
  type DataFrame,
  ErrorCode,
  type HeadersFrame,
} from "./frame.ts";
import { isSelfDependent } from "./frame_payload.ts";
import type { DecodeResult } from "./hpack/decoder.ts";
import { type BlockStart, PendingFieldBlock } from "./field_block.ts";
import { checkTrailers, requestFromFields } from "./request.ts";
import {
  requestPriority,
  UNSIGNALLED_PRIORITY,
  updatedPriority,
} from "./priority.ts";
import { OutgoingBody } from "./body.ts";
import { StartQueue } from "./turn_budget.ts";
import { Http2Stream, StreamClosed } from "./stream.ts";
import { Http2Sink, type StreamOutput } from "./writer.ts";
import { errorReply } from "../response/respond.ts";
import { checkHost } from "../http/semantics.ts";
import {
  contentLength,
  type Reply,
  type ReplySink,
} from "../response/reply.ts";
import { headerValue, type RequestHead } from "../http/request.ts";
import type { ResponseHeaders } from "../http/response.ts";
import type { Http2Session } from "./session.ts";
import { HTTP2 } from "../metrics/counters.ts";
import { isTrustedPeer, requestAddress } from "../http/forwarded.ts";

/** Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
export const MAX_CONCURRENT_STREAMS = 128;

/** Who sent a request: the address, and the user once known. */
export interface StreamClient {
  readonly remote: string;
  /** The peer is a trusted proxy (`--trust-proxy`). */
  readonly peerTrusted: boolean;
  user: string | undefined;
}

/** Chooses and sends the reply to one request (handler.ts's `respond`). */
export type Responder = (
  head: RequestHead,
  sink: ReplySink,
  client: StreamClient,
) => Promise<void>;

/** How a recently closed stream ended, for frames that still arrive. */
type ClosedHow = "ended" | "reset-by-us" | "reset-by-peer";

/** Closed streams remembered; older ids are treated as merely closed. */
const RECENTLY_CLOSED = 64;
/** PRIORITY_UPDATE frames kept for streams not yet open (RFC 9218 §7.1). */
const MAX_EARLY_PRIORITIES = MAX_CONCURRENT_STREAMS;

/** The streams and requests of one HTTP/2 connection. */
export class StreamRequests {
  /** The field block being collected, if a HEADERS lacked END_HEADERS. */
  pendingBlock: PendingFieldBlock | undefined;
  /** Streams opened on this connection. */
  opened = 0;
  /** Responders waiting for their turn to start. */
  readonly starts = new StartQueue();
  #recentlyClosed = new Map<number, ClosedHow>();
  #earlyPriorities = new Map<number, string>();

  constructor(readonly session: Http2Session, readonly respond: Responder) {}

  /** A HEADERS frame: a new request, trailers, or a stream error. */
  headers(frame: HeadersFrame, now: number): void {
    const session = this.session;
    if (frame.streamId % 2 === 0) {
      return session.fail(
        ErrorCode.PROTOCOL_ERROR,
        "client streams have odd ids",
      );
    }
    const start: BlockStart = {
      streamId: frame.streamId,
      endStream: frame.endStream,
      priority: frame.priority,
    };
    if (frame.endHeaders) return this.#block(start, frame.fragment, now);
    this.pendingBlock = new PendingFieldBlock(
      start,
      frame.fragment,
      2 * session.c.config.headLimits.maxHeadBytes,
      now,
    );
    session.deadlineChanged();
  }

  /** A CONTINUATION frame (the reader checked it continues the block). */
  continuation(frame: ContinuationFrame): void {
    const block = this.pendingBlock;
    if (block === undefined) return;
    if (!block.add(frame.fragment)) {
      this.pendingBlock = undefined;
      return this.session.fail(
        ErrorCode.ENHANCE_YOUR_CALM,
        "field block too large",
      );
    }
    if (!frame.endHeaders) return;
    this.pendingBlock = undefined;
    this.#block(block.start, block.join(), Date.now());
  }

  /** A complete field block: always decoded, to keep HPACK in step. */
  #block(start: BlockStart, bytes: Uint8Array, now: number): void {
    const session = this.session;
    const decoded = session.decoder.decode(bytes);
    if (decoded.kind === "compression_error") {
      return session.fail(ErrorCode.COMPRESSION_ERROR, decoded.reason);
    }
    const id = start.streamId;
    const stream = this.#openStream(id);
    if (stream !== undefined) return this.#trailers(stream, start, decoded);
    if (id <= session.lastPeerStreamId) {
      const how = this.#recentlyClosed.get(id);
      // Frames the client sent before it saw our RST_STREAM are fine.
      if (how === "reset-by-us") return;
      if (how === "reset-by-peer") {
        return this.resetStream(id, ErrorCode.STREAM_CLOSED);
      }
      if (how === "ended") {
        return session.fail(
          ErrorCode.STREAM_CLOSED,
          "HEADERS on a closed stream",
        );
      }
      return session.fail(
        ErrorCode.PROTOCOL_ERROR,
        "stream id not above those already used",
      );
    }
    session.lastPeerStreamId = id;
    // After GOAWAY, new streams are ignored: the client retries them.
    if (session.goawaySent) return;
    if (isSelfDependent(id, start.priority)) {
      return this.resetStream(id, ErrorCode.PROTOCOL_ERROR);
    }
    if (session.streams.size >= MAX_CONCURRENT_STREAMS) {
      if (!session.spendCheap(now)) return;
      return this.resetStream(id, ErrorCode.REFUSED_STREAM);
    }
    this.opened++;
    const opened = new Http2Stream(
      id,
      session.peerInitialWindow,
      UNSIGNALLED_PRIORITY,
      now,
    );
    opened.remoteClosed = start.endStream;
    session.streams.set(id, opened);
    const config = session.c.config;
    if (this.opened >= config.maxRequestsPerConnection) {
      session.goAway(ErrorCode.NO_ERROR, "request limit of the connection");
    }
    if (decoded.kind === "too_large") return this.#answer(opened, 431);
    const verdict = requestFromFields(decoded.fields, config.headLimits);
    if (verdict.kind === "malformed") {
      if (!session.spendCheap(now)) return;
      return this.resetStream(id, ErrorCode.PROTOCOL_ERROR);
    }
    if (verdict.kind === "too_large") {
      return this.#answer(opened, verdict.status);
    }
    opened.head = verdict.head;
    // :authority (or Host) must name a valid host, as Host does in HTTP/1.1.
    if (checkHost(verdict.head) !== undefined) return this.#answer(opened, 400);
    opened.expectedLength = verdict.contentLength;
    opened.priority = requestPriority(verdict.priority);
    const early = this.#earlyPriorities.get(id);
    if (early !== undefined) {
      this.#earlyPriorities.delete(id);
      this.#reprioritize(opened, early);
    }
    if (opened.remoteClosed) return this.#requestComplete(opened);
    if ((verdict.contentLength ?? 0) > config.maxBodyBytes) {
      return this.#answer(opened, 413);
    }
    session.deadlineChanged();
  }

  /**
   * The stream `id` unless it is closed: a closed stream may still be in
   * the map while its responder finishes, but frames treat it as closed.
   */
  #openStream(id: number): Http2Stream | undefined {
    const stream = this.session.streams.get(id);
    return stream === undefined || stream.closed ? undefined : stream;
  }

  /** A second field block on an open stream: trailers, which end it. */
  #trailers(
    stream: Http2Stream,
    start: BlockStart,
    decoded: DecodeResult,
  ): void {
    if (stream.remoteClosed) {
      return this.resetStream(stream.id, ErrorCode.STREAM_CLOSED);
    }
    if (
      !start.endStream ||
      (decoded.kind === "fields" &&
        checkTrailers(decoded.fields).kind === "malformed")
    ) {
      return this.resetStream(stream.id, ErrorCode.PROTOCOL_ERROR);
    }
    this.#requestComplete(stream);
  }

  /** A DATA frame: request content, counted and dropped. */
  data(frame: DataFrame, now: number): void {
    const session = this.session;
    const id = frame.streamId;
    const stream = this.#openStream(id);
    // Charged before any early return: an empty frame, or any frame on a
    // stream that is over, moves no request forward (CVE-2019-9518).
    const useless = stream === undefined || stream.remoteClosed ||
      (frame.data.length === 0 && !frame.endStream);
    if (useless && !session.spendCheap(now)) return;
    if (stream === undefined) {
      if (id > session.lastPeerStreamId) {
        return session.fail(ErrorCode.PROTOCOL_ERROR, "DATA on an idle stream");
      }
      if (this.#recentlyClosed.get(id) === "reset-by-us") return;
      return this.resetStream(id, ErrorCode.STREAM_CLOSED);
    }
    if (stream.remoteClosed) {
      return this.resetStream(id, ErrorCode.STREAM_CLOSED);
    }
    stream.receivedBytes += frame.data.length;
    if (
      stream.expectedLength !== undefined &&
      stream.receivedBytes > stream.expectedLength
    ) {
      return this.resetStream(id, ErrorCode.PROTOCOL_ERROR);
    }
    const maxBody = session.c.config.maxBodyBytes;
    if (stream.receivedBytes > maxBody) {
      if (!stream.busy && stream.status === 0) this.#answer(stream, 413);
    } else if (!frame.endStream && frame.length > 0) {
      // Let the rest of an acceptable body come.
      session.control((w) => w.windowUpdate(id, frame.length));
    }
    if (frame.endStream) this.#requestComplete(stream);
  }

  /** The client ended its side: check the length and answer. */
  #requestComplete(stream: Http2Stream): void {
    stream.remoteClosed = true;
    if (
      stream.expectedLength !== undefined &&
      stream.receivedBytes !== stream.expectedLength
    ) {
      return this.resetStream(stream.id, ErrorCode.PROTOCOL_ERROR);
    }
    if (!stream.busy && stream.status === 0 && stream.head !== undefined) {
      const head = stream.head;
      this.#run(stream, (sink, client) => this.respond(head, sink, client));
    } else this.#forgetIfClosed(stream);
  }

  /** A RST_STREAM from the client. */
  peerReset(id: number, now: number): void {
    const session = this.session;
    const stream = this.#openStream(id);
    if (stream === undefined) {
      if (id > session.lastPeerStreamId) {
        session.fail(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on an idle stream");
      } else session.spendCheap(now);
      return;
    }
    // Opening streams only to cancel them is the rapid-reset attack.
    if (!stream.localClosed && !session.earlyResets.spend(now)) {
      return session.fail(
        ErrorCode.ENHANCE_YOUR_CALM,
        "too many streams reset",
      );
    }
    this.#close(stream, "reset-by-peer");
  }

  /** Resets a stream (ours to decide): RST_STREAM, and its output stops. */
  resetStream(id: number, code: number): void {
    const session = this.session;
    session.control((w) => w.rstStream(id, code));
    const stream = session.streams.get(id);
    if (stream === undefined) this.#remember(id, "reset-by-us");
    else this.#close(stream, "reset-by-us");
  }

  #close(stream: Http2Stream, how: ClosedHow): void {
    stream.reset = true;
    this.#remember(stream.id, how);
    this.session.output.withdraw(stream);
    stream.abandon();
    this.#forgetIfClosed(stream);
  }

  /** A PRIORITY_UPDATE: applies now, or when the stream opens. */
  priorityUpdate(id: number, value: string): void {
    const stream = this.session.streams.get(id);
    if (stream !== undefined) return this.#reprioritize(stream, value);
    if (id <= this.session.lastPeerStreamId) return;
    const early = this.#earlyPriorities;
    if (early.size >= MAX_EARLY_PRIORITIES && !early.has(id)) {
      early.delete(early.keys().next().value!);
    }
    early.set(id, value);
  }

  #reprioritize(stream: Http2Stream, value: string): void {
    const priority = updatedPriority(stream.priority, value);
    if (stream.queued) this.session.output.data.update(stream, priority);
    else stream.priority = priority;
  }

  /** A body that did not arrive within the header timeout: 408. */
  timedOut(stream: Http2Stream): void {
    if (!stream.busy && stream.status === 0) this.#answer(stream, 408);
  }

  /** The output sent the response's last frame. */
  responseSent(stream: Http2Stream): void {
    stream.sent();
    if (!stream.remoteClosed) {
      // Answered before the request ended (413, 408): stop its upload.
      this.session.control((w) => w.rstStream(stream.id, ErrorCode.NO_ERROR));
      stream.reset = true;
      this.#remember(stream.id, "reset-by-us");
    } else this.#remember(stream.id, "ended");
    this.#forgetIfClosed(stream);
  }

  /** The content could not be produced: the client must not take it whole. */
  bodyFailed(stream: Http2Stream, _error: unknown): void {
    this.resetStream(stream.id, ErrorCode.INTERNAL_ERROR);
  }

  /** Answers with an error page, whatever the request said. */
  #answer(stream: Http2Stream, status: number): void {
    const ctx = this.session.c.ctx;
    this.#run(stream, (sink) => sink.send(errorReply(ctx, status)));
  }

  /**
   * Runs a responder task for `stream`, counted until it settles. It
   * starts from the {@linkcode StartQueue}: not while this read's frames
   * are handled, and not at all if the stream is over by then.
   */
  #run(
    stream: Http2Stream,
    work: (sink: ReplySink, client: StreamClient) => Promise<void>,
  ): void {
    stream.busy = true;
    this.starts.push(
      () => this.#start(stream, work),
      () => stream.priority.urgency,
    );
    this.session.deadlineChanged();
  }

  /** Starts the responder; false when the stream ended while it waited. */
  #start(
    stream: Http2Stream,
    work: (sink: ReplySink, client: StreamClient) => Promise<void>,
  ): boolean {
    const session = this.session;
    const client: StreamClient = {
      remote: session.remote,
      peerTrusted: isTrustedPeer(
        session.remote,
        session.c.config.trustProxy,
      ),
      user: undefined,
    };
    if (stream.reset || stream.localClosed || session.ending) {
      stream.busy = false;
      this.#forgetIfClosed(stream);
      return false;
    }
    const sink = new Http2Sink(
      this.#outputOf(stream),
      stream.head?.method === "HEAD",
    );
    const task = (async () => {
      try {
        await work(sink, client);
      } catch (err) {
        if (!(err instanceof StreamClosed)) {
          console.error("pws: stream error:", err);
          if (stream.status === 0 && !stream.reset) {
            await sink.send(errorReply(session.c.ctx, 500)).catch(() => {});
          } else if (!stream.reset) {
            this.resetStream(stream.id, ErrorCode.INTERNAL_ERROR);
          }
        }
      } finally {
        stream.busy = false;
        this.starts.finished();
        this.#log(stream, client);
        this.#forgetIfClosed(stream);
      }
    })();
    session.track(task);
    return true;
  }

  #outputOf(stream: Http2Stream): StreamOutput {
    const session = this.session;
    const config = session.c.config;
    return {
      wire: {
        hstsSeconds: session.c.secure ? config.hstsSeconds : undefined,
      },
      respond: (fields: ResponseHeaders, reply: Reply, headOnly: boolean) => {
        if (stream.reset || stream.localClosed || session.ending) {
          return Promise.reject(new StreamClosed());
        }
        stream.status = reply.status;
        stream.pendingFields = fields;
        stream.body = headOnly || contentLength(reply.content) === 0 ||
            reply.content.kind === "none"
          ? undefined
          : new OutgoingBody(reply.content, session.readAhead, () => {
            stream.fetching = false;
            session.output.resume(stream);
          });
        const sent = stream.awaitSent();
        session.output.queueResponse(stream);
        return sent;
      },
    };
  }

  #log(stream: Http2Stream, client: StreamClient): void {
    const ctx = this.session.c.ctx;
    ctx.metrics?.requestDone(
      stream.head?.method ?? "-",
      HTTP2,
      stream.status,
      stream.bytesSent,
      Date.now() - stream.openedAt,
    );
    const log = ctx.accessLog;
    if (log === undefined || stream.status === 0) return;
    log.record({
      time: stream.openedAt,
      remote: requestAddress(
        stream.head,
        this.session.c.config.trustProxy,
        client.remote,
        client.peerTrusted,
      ),
      user: client.user,
      method: stream.head?.method ?? "-",
      target: stream.head?.target ?? "-",
      protocol: "HTTP/2",
      status: stream.status,
      bytes: stream.bytesSent,
      bodyBytes: stream.bodyBytesSent,
      referer: stream.head === undefined
        ? undefined
        : headerValue(stream.head, "referer"),
      userAgent: stream.head === undefined
        ? undefined
        : headerValue(stream.head, "user-agent"),
      durationMs: Date.now() - stream.openedAt,
    });
  }

  #remember(id: number, how: ClosedHow): void {
    const recent = this.#recentlyClosed;
    recent.delete(id);
    recent.set(id, how);
    if (recent.size > RECENTLY_CLOSED) {
      recent.delete(recent.keys().next().value!);
    }
  }

  #forgetIfClosed(stream: Http2Stream): void {
    const session = this.session;
    if (!stream.closed || stream.busy) return;
    if (session.streams.get(stream.id) !== stream) return;
    session.streams.delete(stream.id);
    if (session.streams.size === 0) session.idleSince = Date.now();
    session.closeIfDone();
    session.deadlineChanged();
  }
}
