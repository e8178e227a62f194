/**
 * Parses the complete payload of a frame whose header passed the rules of
 * `frame_rules.ts` into a typed frame, applying the rules that need the
 * payload: padding no longer than what remains (RFC 9113 §6.1, §6.2,
 * §6.6), settings values (§6.5.2), a WINDOW_UPDATE increment of 0
 * (§6.9), a PRIORITY frame that depends on its own stream (§5.3.1), and
 * PRIORITY_UPDATE's prioritized stream (RFC 9218 §7.1).
 *
 * Rules left to the connection, which holds the state they need: stream
 * states (§5.1), flow-control windows (§6.9.1), a server's refusal of
 * PUSH_PROMISE (§8.4), and a HEADERS frame whose PRIORITY signal names its
 * own stream (§5.3.1): its field block must still be decoded to keep the
 * HPACK context in step, so the reader delivers the frame and the
 * connection resets the stream afterwards ({@linkcode isSelfDependent}).
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
  type PrioritySignal,
  type ReadEvent,
  readUint31,
  readUint32,
  type Setting,
  SettingId,
  streamError,
} from "./frame.ts";
import {
  checkSetting,
  padBytes,
  PRIORITY_FIELDS_SIZE,
  SETTING_ENTRY_SIZE,
} from "./frame_rules.ts";

/** Shared empty payload: a zero-length view cannot be written through. */
const EMPTY = new Uint8Array(0);

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
      const fields = unpad(
        header,
        payload,
        hasPriority ? PRIORITY_FIELDS_SIZE : 0,
      );
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

/** Whether pws knows `id` and so keeps it in a parsed SETTINGS frame. */
function isKnownSetting(id: number): boolean {
  return (id >= SettingId.HEADER_TABLE_SIZE &&
    id <= SettingId.MAX_HEADER_LIST_SIZE) ||
    id === SettingId.ENABLE_CONNECT_PROTOCOL ||
    id === SettingId.NO_RFC7540_PRIORITIES;
}

function parseSettings(flags: number, payload: Uint8Array): ReadEvent {
  const settings: Setting[] = [];
  for (let i = 0; i < payload.length; i += SETTING_ENTRY_SIZE) {
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

function frame(value: Frame): ReadEvent {
  return { kind: "frame", frame: value };
}

function error(value: FrameError): ReadEvent {
  return { kind: "error", error: value };
}
