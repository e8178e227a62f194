/**
 * The validity rules of RFC 9113 §4–§6 (and RFC 9218 §7.1) that can be
 * judged from a frame's 9-byte header alone, before any of its payload is
 * buffered: the size limit, which types need stream 0 or another stream,
 * the lengths each type fixes or needs at least
 * ({@linkcode checkFrameHeader}); the field block sequence
 * ({@linkcode checkFieldBlockSequence}); and the range of each setting's
 * value ({@linkcode checkSetting}). Every violation is a
 * {@linkcode FrameError} saying whether it ends the connection or only
 * resets the stream, and with which code.
 *
 * @module
 */

import {
  connectionError,
  ErrorCode,
  Flag,
  type FrameError,
  type FrameHeader,
  FrameType,
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW_SIZE,
  MIN_MAX_FRAME_SIZE,
  SettingId,
  streamError,
} from "./frame.ts";

/** Bytes of a SETTINGS entry: 16-bit identifier, 32-bit value. */
export const SETTING_ENTRY_SIZE = 6;

/** Bytes of the exclusive bit, stream dependency and weight. */
export const PRIORITY_FIELDS_SIZE = 5;

/**
 * Judges a frame by its header alone, before its payload is read: the size
 * limit (`maxFrameSize`, the local SETTINGS_MAX_FRAME_SIZE), the field
 * block sequence when a block is open on `openBlockStream`
 * ({@linkcode checkFieldBlockSequence}), whether the type needs stream 0
 * or another stream, and the lengths each type fixes or needs at least.
 * Returns null when the payload may be read. Unknown types pass (the
 * caller skips them) once within the size limit and outside a block.
 */
export function checkFrameHeader(
  header: FrameHeader,
  maxFrameSize: number,
  openBlockStream = 0,
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
  // Inside a field block any other frame ends the connection, even one
  // whose own fault would only reset a stream.
  const outOfSequence = checkFieldBlockSequence(header, openBlockStream);
  if (outOfSequence) return outOfSequence;
  switch (type) {
    case FrameType.DATA:
      return needStream(header, "DATA") ??
        needLength(header, padBytes(flags), "DATA");
    case FrameType.HEADERS:
      return needStream(header, "HEADERS") ??
        needLength(
          header,
          padBytes(flags) +
            ((flags & Flag.PRIORITY) ? PRIORITY_FIELDS_SIZE : 0),
          "HEADERS",
        );
    case FrameType.PRIORITY:
      return needStream(header, "PRIORITY") ??
        (length === PRIORITY_FIELDS_SIZE ? null : streamError(
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

/** 1 when the PADDED flag announces a pad length byte, else 0. */
export function padBytes(flags: number): number {
  return (flags & Flag.PADDED) ? 1 : 0;
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
  return header.length % SETTING_ENTRY_SIZE === 0 ? null : connectionError(
    ErrorCode.FRAME_SIZE_ERROR,
    0,
    `SETTINGS frame of ${header.length} bytes, not a multiple of 6`,
  );
}
