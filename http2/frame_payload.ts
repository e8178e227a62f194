/**
 * The validity rules of RFC 9113 §4–§6 (and RFC 9218 §7.1 for
 * PRIORITY_UPDATE) as pure functions: what can be judged from a frame's
 * 9-byte header alone, before any of its payload is buffered
 * ({@linkcode checkFrameHeader}, {@linkcode checkFieldBlockSequence}), and
 * the parsing of a complete payload into a typed frame
 * ({@linkcode parseFramePayload}). Every violation comes back as a
 * {@linkcode FrameError} saying whether it ends the connection or only
 * resets the stream, and with which code.
 *
 * Rules left to the connection, which holds the state they need: stream
 * states (§5.1), flow-control windows (§6.9.1), a server's refusal of
 * PUSH_PROMISE (§8.4), and a HEADERS frame whose PRIORITY signal names its
 * own stream (§5.3.1): its field block must still be decoded to keep the
 * HPACK context in step, so the reader delivers the frame and the
 * connection resets the stream afterwards ({@linkcode isSelfDependent}).
 * A PRIORITY frame that depends on itself carries no field block and is
 * reported here.
 *
 * @module
 */

import {
  connectionError,
  ErrorCode,
  Flag,
  type Frame,
  type FrameError,
  type FrameHeader,
  FrameType,
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW_SIZE,
  MIN_MAX_FRAME_SIZE,
  type PrioritySignal,
  type ReadEvent,
  readUint31,
  readUint32,
  type Setting,
  SettingId,
  streamError,
} from "./frame.ts";

/** Bytes of a SETTINGS entry: 16-bit identifier, 32-bit value. */
const SETTING_SIZE = 6;

/** Bytes of the exclusive bit, stream dependency and weight. */
const PRIORITY_SIZE = 5;

/** Shared empty payload: a zero-length view cannot be written through. */
const EMPTY = new Uint8Array(0);

/**
 * Judges a frame by its header alone, before its payload is read: the size
 * limit (`maxFrameSize`, the local SETTINGS_MAX_FRAME_SIZE), whether the
 * type needs stream 0 or another stream, and the lengths each type fixes
 * or needs at least. Returns null when the payload may be read. Unknown
 * types pass (the caller skips them) once within the size limit.
 */
export function checkFrameHeader(
  header: FrameHeader,
  maxFrameSize: number,
): FrameError | null {
  const { length, type, flags, streamId } = header;
  if (length > maxFrameSize) {
    // §4.2 lets any oversized frame end the connection; doing so for all
    // types means the payload never needs to be read or skipped.
    return connectionError(
      ErrorCode.FRAME_SIZE_ERROR,
      streamId,
      `frame of ${length} bytes exceeds the maximum of ${maxFrameSize}`,
    );
  }
  switch (type) {
    case FrameType.DATA:
      return needStream(header, "DATA") ??
        needLength(header, padBytes(flags), "DATA");
    case FrameType.HEADERS:
      return needStream(header, "HEADERS") ??
        needLength(
          header,
          padBytes(flags) + ((flags & Flag.PRIORITY) ? PRIORITY_SIZE : 0),
          "HEADERS",
        );
    case FrameType.PRIORITY:
      return needStream(header, "PRIORITY") ??
        (length === PRIORITY_SIZE ? null : streamError(
          ErrorCode.FRAME_SIZE_ERROR,
          streamId,
          `PRIORITY frame of ${length} bytes, not 5`,
        ));
    case FrameType.RST_STREAM:
      return needStream(header, "RST_STREAM") ??
        exactLength(header, 4, "RST_STREAM");
    case FrameType.SETTINGS:
      return needStreamZero(header, "SETTINGS") ?? settingsLength(header);
    case FrameType.PUSH_PROMISE:
      return needStream(header, "PUSH_PROMISE") ??
        needLength(header, padBytes(flags) + 4, "PUSH_PROMISE");
    case FrameType.PING:
      return needStreamZero(header, "PING") ?? exactLength(header, 8, "PING");
    case FrameType.GOAWAY:
      return needStreamZero(header, "GOAWAY") ??
        needLength(header, 8, "GOAWAY");
    case FrameType.WINDOW_UPDATE:
      return exactLength(header, 4, "WINDOW_UPDATE");
    case FrameType.CONTINUATION:
      return needStream(header, "CONTINUATION");
    case FrameType.PRIORITY_UPDATE:
      return needStreamZero(header, "PRIORITY_UPDATE") ??
        needLength(header, 4, "PRIORITY_UPDATE");
    default:
      return null;
  }
}

/**
 * The field block rule of RFC 9113 §4.3 and §6.10: while a field block is
 * open on `openBlockStream` (a HEADERS or PUSH_PROMISE without
 * END_HEADERS, 0 when none is open), only a CONTINUATION on that stream
 * may come, and a CONTINUATION may come only then. Anything else is a
 * connection PROTOCOL_ERROR.
 */
export function checkFieldBlockSequence(
  header: FrameHeader,
  openBlockStream: number,
): FrameError | null {
  const isContinuation = header.type === FrameType.CONTINUATION;
  if (openBlockStream === 0) {
    return isContinuation
      ? connectionError(
        ErrorCode.PROTOCOL_ERROR,
        header.streamId,
        "CONTINUATION without an open field block",
      )
      : null;
  }
  if (isContinuation && header.streamId === openBlockStream) return null;
  return connectionError(
    ErrorCode.PROTOCOL_ERROR,
    header.streamId,
    `frame type ${header.type} on stream ${header.streamId} inside the ` +
      `field block of stream ${openBlockStream}`,
  );
}

/**
 * Parses the complete `payload` of a frame whose header passed
 * {@linkcode checkFrameHeader}. Returns null for unknown types (ignored,
 * RFC 9113 §4.1). Field fragments and DATA are views of `payload`; PING
 * data and GOAWAY debug data are copies.
 */
export function parseFramePayload(
  header: FrameHeader,
  payload: Uint8Array,
): ReadEvent | null {
  const { type, flags, streamId } = header;
  switch (type) {
    case FrameType.DATA: {
      const body = unpad(header, payload, 0);
      if (!body) return padError(header);
      return frame({
        type,
        streamId,
        endStream: (flags & Flag.END_STREAM) !== 0,
        data: body,
        length: payload.length,
      });
    }
    case FrameType.HEADERS: {
      const hasPriority = (flags & Flag.PRIORITY) !== 0;
      const fields = unpad(header, payload, hasPriority ? PRIORITY_SIZE : 0);
      if (!fields) return padError(header);
      return frame({
        type,
        streamId,
        endStream: (flags & Flag.END_STREAM) !== 0,
        endHeaders: (flags & Flag.END_HEADERS) !== 0,
        priority: hasPriority ? readPriority(payload, padBytes(flags)) : null,
        fragment: fields,
      });
    }
    case FrameType.PRIORITY: {
      const priority = readPriority(payload, 0);
      if (isSelfDependent(streamId, priority)) {
        return error(streamError(
          ErrorCode.PROTOCOL_ERROR,
          streamId,
          "PRIORITY frame makes the stream depend on itself",
        ));
      }
      return frame({ type, streamId, priority });
    }
    case FrameType.RST_STREAM:
      return frame({ type, streamId, errorCode: readUint32(payload, 0) });
    case FrameType.SETTINGS:
      return parseSettings(flags, payload);
    case FrameType.PUSH_PROMISE: {
      const fields = unpad(header, payload, 4);
      if (!fields) return padError(header);
      return frame({
        type,
        streamId,
        endHeaders: (flags & Flag.END_HEADERS) !== 0,
        promisedStreamId: readUint31(payload, padBytes(flags)),
        fragment: fields,
      });
    }
    case FrameType.PING:
      return frame({
        type,
        streamId: 0,
        ack: (flags & Flag.ACK) !== 0,
        data: payload.slice(0, 8),
      });
    case FrameType.GOAWAY:
      return frame({
        type,
        streamId: 0,
        lastStreamId: readUint31(payload, 0),
        errorCode: readUint32(payload, 4),
        debugData: payload.slice(8),
      });
    case FrameType.WINDOW_UPDATE: {
      const increment = readUint31(payload, 0);
      if (increment !== 0) return frame({ type, streamId, increment });
      const reason = "WINDOW_UPDATE with an increment of 0";
      return error(
        streamId === 0
          ? connectionError(ErrorCode.PROTOCOL_ERROR, 0, reason)
          : streamError(ErrorCode.PROTOCOL_ERROR, streamId, reason),
      );
    }
    case FrameType.CONTINUATION:
      return frame({
        type,
        streamId,
        endHeaders: (flags & Flag.END_HEADERS) !== 0,
        fragment: payload,
      });
    case FrameType.PRIORITY_UPDATE: {
      const prioritizedStreamId = readUint31(payload, 0);
      if (prioritizedStreamId === 0) {
        return error(connectionError(
          ErrorCode.PROTOCOL_ERROR,
          0,
          "PRIORITY_UPDATE for stream 0",
        ));
      }
      return frame({
        type,
        streamId: 0,
        prioritizedStreamId,
        fieldValue: bytesToLatin1(payload.subarray(4)),
      });
    }
    default:
      return null;
  }
}

/**
 * Whether a PRIORITY signal on `streamId` names that same stream, which
 * RFC 9113 §5.3.1 makes a stream PROTOCOL_ERROR.
 */
export function isSelfDependent(
  streamId: number,
  priority: PrioritySignal | null,
): boolean {
  return priority !== null && priority.dependency === streamId;
}

/**
 * Checks one setting's value (RFC 9113 §6.5.2, RFC 8441 §3, RFC 9218
 * §2.1). Identifiers pws does not know are never an error.
 */
export function checkSetting(id: number, value: number): FrameError | null {
  switch (id) {
    case SettingId.ENABLE_PUSH:
    case SettingId.ENABLE_CONNECT_PROTOCOL:
    case SettingId.NO_RFC7540_PRIORITIES:
      return value <= 1 ? null : connectionError(
        ErrorCode.PROTOCOL_ERROR,
        0,
        `setting ${id} must be 0 or 1, not ${value}`,
      );
    case SettingId.INITIAL_WINDOW_SIZE:
      return value <= MAX_WINDOW_SIZE ? null : connectionError(
        ErrorCode.FLOW_CONTROL_ERROR,
        0,
        `SETTINGS_INITIAL_WINDOW_SIZE ${value} exceeds 2^31-1`,
      );
    case SettingId.MAX_FRAME_SIZE:
      return value >= MIN_MAX_FRAME_SIZE && value <= MAX_MAX_FRAME_SIZE
        ? null
        : connectionError(
          ErrorCode.PROTOCOL_ERROR,
          0,
          `SETTINGS_MAX_FRAME_SIZE ${value} outside 2^14..2^24-1`,
        );
    default:
      return null;
  }
}

/** Whether pws knows `id` and so keeps it in a parsed SETTINGS frame. */
function isKnownSetting(id: number): boolean {
  return (id >= SettingId.HEADER_TABLE_SIZE &&
    id <= SettingId.MAX_HEADER_LIST_SIZE) ||
    id === SettingId.ENABLE_CONNECT_PROTOCOL ||
    id === SettingId.NO_RFC7540_PRIORITIES;
}

function parseSettings(flags: number, payload: Uint8Array): ReadEvent {
  const settings: Setting[] = [];
  for (let i = 0; i < payload.length; i += SETTING_SIZE) {
    const id = (payload[i] << 8) | payload[i + 1];
    const value = readUint32(payload, i + 2);
    const problem = checkSetting(id, value);
    if (problem) return error(problem);
    if (isKnownSetting(id)) settings.push({ id, value });
  }
  return frame({
    type: FrameType.SETTINGS,
    streamId: 0,
    ack: (flags & Flag.ACK) !== 0,
    settings,
  });
}

/** 1 when the PADDED flag announces a pad length byte, else 0. */
function padBytes(flags: number): number {
  return (flags & Flag.PADDED) ? 1 : 0;
}

/**
 * The payload between the fixed fields (pad length byte, then `fixed`
 * bytes) and the padding; null when the padding is longer than what
 * remains (RFC 9113 §6.1, §6.2, §6.6).
 */
function unpad(
  header: FrameHeader,
  payload: Uint8Array,
  fixed: number,
): Uint8Array | null {
  const padded = (header.flags & Flag.PADDED) !== 0;
  const start = (padded ? 1 : 0) + fixed;
  const end = payload.length - (padded ? payload[0] : 0);
  if (end < start) return null;
  return start === end ? EMPTY : payload.subarray(start, end);
}

function padError(header: FrameHeader): ReadEvent {
  return error(connectionError(
    ErrorCode.PROTOCOL_ERROR,
    header.streamId,
    "padding is longer than the frame payload",
  ));
}

function readPriority(payload: Uint8Array, offset: number): PrioritySignal {
  return {
    exclusive: (payload[offset] & 0x80) !== 0,
    dependency: readUint31(payload, offset),
    weight: payload[offset + 4] + 1,
  };
}

/** Decodes bytes one character each (Latin-1), in bounded slices. */
function bytesToLatin1(bytes: Uint8Array): string {
  let text = "";
  // fromCharCode takes its arguments on the stack: slice to stay small.
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return text;
}

function needStream(header: FrameHeader, name: string): FrameError | null {
  return header.streamId !== 0 ? null : connectionError(
    ErrorCode.PROTOCOL_ERROR,
    0,
    `${name} frame on stream 0`,
  );
}

function needStreamZero(header: FrameHeader, name: string): FrameError | null {
  return header.streamId === 0 ? null : connectionError(
    ErrorCode.PROTOCOL_ERROR,
    header.streamId,
    `${name} frame on stream ${header.streamId}, not 0`,
  );
}

function needLength(
  header: FrameHeader,
  minimum: number,
  name: string,
): FrameError | null {
  return header.length >= minimum ? null : connectionError(
    ErrorCode.FRAME_SIZE_ERROR,
    header.streamId,
    `${name} frame of ${header.length} bytes, shorter than ${minimum}`,
  );
}

function exactLength(
  header: FrameHeader,
  exact: number,
  name: string,
): FrameError | null {
  return header.length === exact ? null : connectionError(
    ErrorCode.FRAME_SIZE_ERROR,
    header.streamId,
    `${name} frame of ${header.length} bytes, not ${exact}`,
  );
}

function settingsLength(header: FrameHeader): FrameError | null {
  if ((header.flags & Flag.ACK) && header.length !== 0) {
    return connectionError(
      ErrorCode.FRAME_SIZE_ERROR,
      0,
      "SETTINGS acknowledgement with a payload",
    );
  }
  return header.length % SETTING_SIZE === 0 ? null : connectionError(
    ErrorCode.FRAME_SIZE_ERROR,
    0,
    `SETTINGS frame of ${header.length} bytes, not a multiple of 6`,
  );
}

function frame(value: Frame): ReadEvent {
  return { kind: "frame", frame: value };
}

function error(value: FrameError): ReadEvent {
  return { kind: "error", error: value };
}
