/**
 * HTTP/2 frame layer vocabulary (RFC 9113 §4, §6, §7; RFC 9218 §7.1): the
 * frame types, flags, error codes and settings identifiers, the limits and
 * defaults, the client connection preface, the shapes of parsed frames and
 * of the errors the reader reports, and the 9-byte frame header.
 *
 * Pure data and arithmetic: no I/O. The reader (`frame_reader.ts`,
 * `frame_payload.ts`) and the writer (`frame_writer.ts`) build on it.
 *
 * @module
 */

/** Frame type codes (RFC 9113 §6, RFC 9218 §7.1). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
  PRIORITY_UPDATE: 0x10,
} as const;

/** Frame flag bits (RFC 9113 §6). Several types share a bit: ACK is 0x1. */
export const Flag = {
  /** DATA, HEADERS: the last frame the sender sends on this stream. */
  END_STREAM: 0x1,
  /** SETTINGS, PING: this frame acknowledges the peer's. */
  ACK: 0x1,
  /** HEADERS, PUSH_PROMISE, CONTINUATION: the field block ends here. */
  END_HEADERS: 0x4,
  /** DATA, HEADERS, PUSH_PROMISE: a pad length byte and padding follow. */
  PADDED: 0x8,
  /** HEADERS: exclusive bit, stream dependency and weight precede the block. */
  PRIORITY: 0x20,
} as const;

/** Error codes of RST_STREAM and GOAWAY (RFC 9113 §7). */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** One of the error codes pws itself reports (a peer may send any 32 bits). */
export type ErrorCodeValue = typeof ErrorCode[keyof typeof ErrorCode];

/**
 * Settings identifiers (RFC 9113 §6.5.2; ENABLE_CONNECT_PROTOCOL from
 * RFC 8441 §3, NO_RFC7540_PRIORITIES from RFC 9218 §2.1).
 */
export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
  ENABLE_CONNECT_PROTOCOL: 0x8,
  NO_RFC7540_PRIORITIES: 0x9,
} as const;

/** The 24 bytes a client sends first: `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`. */
export const CLIENT_PREFACE: Uint8Array = new TextEncoder().encode(
  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
);

/** Length of the frame header that precedes every payload. */
export const FRAME_HEADER_SIZE = 9;

/** Initial flow-control window of the connection and of every stream. */
export const DEFAULT_INITIAL_WINDOW_SIZE = 65_535;

/** SETTINGS_MAX_FRAME_SIZE until a peer says otherwise, and its minimum. */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;

/** Smallest value SETTINGS_MAX_FRAME_SIZE may take: 2^14. */
export const MIN_MAX_FRAME_SIZE = 16_384;

/** Largest value SETTINGS_MAX_FRAME_SIZE may take: 2^24 − 1. */
export const MAX_MAX_FRAME_SIZE = 16_777_215;

/** Largest flow-control window, and largest INITIAL_WINDOW_SIZE: 2^31 − 1. */
export const MAX_WINDOW_SIZE = 2_147_483_647;

/** SETTINGS_HEADER_TABLE_SIZE until the peer says otherwise. */
export const DEFAULT_HEADER_TABLE_SIZE = 4_096;

/** Mask that drops the reserved high bit of a 31-bit stream identifier. */
export const STREAM_ID_MASK = 0x7fff_ffff;

/** The fields of the 9-byte header in front of every frame (RFC 9113 §4.1). */
export interface FrameHeader {
  /** Payload length in bytes (24 bits), padding included. */
  length: number;
  /** Frame type code; unknown codes are possible and must be ignored. */
  type: number;
  /** Flag bits; those not defined for the type must be ignored. */
  flags: number;
  /** Stream identifier, reserved bit already dropped. */
  streamId: number;
}

/** Stream dependency and weight of HEADERS and PRIORITY (RFC 9113 §6.3). */
export interface PrioritySignal {
  /** The exclusive bit. */
  exclusive: boolean;
  /** The stream this one depends on (0: the root). */
  dependency: number;
  /** The weight as the RFC defines it: the wire byte plus one, 1..256. */
  weight: number;
}

/** A setting as carried by a SETTINGS frame. */
export interface Setting {
  /** One of {@linkcode SettingId}. */
  id: number;
  /** A 32-bit unsigned value, already checked against the setting's range. */
  value: number;
}

/** A DATA frame. `data` is a view of the reader's input, padding removed. */
export interface DataFrame {
  type: typeof FrameType.DATA;
  streamId: number;
  endStream: boolean;
  data: Uint8Array;
  /** The whole payload length, padding included: what flow control counts. */
  length: number;
}

/** A HEADERS frame. `fragment` is a view of the field block fragment. */
export interface HeadersFrame {
  type: typeof FrameType.HEADERS;
  streamId: number;
  endStream: boolean;
  endHeaders: boolean;
  /** Present when the PRIORITY flag was set. */
  priority: PrioritySignal | null;
  fragment: Uint8Array;
}

/** A PRIORITY frame (deprecated by RFC 9113, still parsed and validated). */
export interface PriorityFrame {
  type: typeof FrameType.PRIORITY;
  streamId: number;
  priority: PrioritySignal;
}

/** A RST_STREAM frame. */
export interface RstStreamFrame {
  type: typeof FrameType.RST_STREAM;
  streamId: number;
  /** Any 32-bit code: unknown codes mean INTERNAL_ERROR to the receiver. */
  errorCode: number;
}

/** A SETTINGS frame: the known settings in the order sent, or an ACK. */
export interface SettingsFrame {
  type: typeof FrameType.SETTINGS;
  streamId: 0;
  ack: boolean;
  /** Unknown identifiers are left out (RFC 9113 §6.5.2: ignored). */
  settings: Setting[];
}

/** A PUSH_PROMISE frame (a server must refuse one from a client, §8.4). */
export interface PushPromiseFrame {
  type: typeof FrameType.PUSH_PROMISE;
  streamId: number;
  endHeaders: boolean;
  promisedStreamId: number;
  fragment: Uint8Array;
}

/** A PING frame; `data` is a copy of the 8 opaque bytes. */
export interface PingFrame {
  type: typeof FrameType.PING;
  streamId: 0;
  ack: boolean;
  data: Uint8Array;
}

/** A GOAWAY frame; `debugData` is a copy. */
export interface GoawayFrame {
  type: typeof FrameType.GOAWAY;
  streamId: 0;
  lastStreamId: number;
  errorCode: number;
  debugData: Uint8Array;
}

/** A WINDOW_UPDATE frame; the increment is never 0 (that is an error). */
export interface WindowUpdateFrame {
  type: typeof FrameType.WINDOW_UPDATE;
  streamId: number;
  increment: number;
}

/** A CONTINUATION frame; the reader checks it follows its HEADERS. */
export interface ContinuationFrame {
  type: typeof FrameType.CONTINUATION;
  streamId: number;
  endHeaders: boolean;
  fragment: Uint8Array;
}

/** A PRIORITY_UPDATE frame (RFC 9218 §7.1), always on stream 0. */
export interface PriorityUpdateFrame {
  type: typeof FrameType.PRIORITY_UPDATE;
  streamId: 0;
  /** The stream (never 0) the priority applies to. */
  prioritizedStreamId: number;
  /** The Priority field value, one character per byte, unvalidated. */
  fieldValue: string;
}

/** Every frame the reader yields. Unknown types are skipped, never yielded. */
export type Frame =
  | DataFrame
  | HeadersFrame
  | PriorityFrame
  | RstStreamFrame
  | SettingsFrame
  | PushPromiseFrame
  | PingFrame
  | GoawayFrame
  | WindowUpdateFrame
  | ContinuationFrame
  | PriorityUpdateFrame;

/**
 * A violation the reader found, as RFC 9113 §5.4 classifies it: a
 * connection error ends the connection with GOAWAY, a stream error resets
 * `streamId` with RST_STREAM and the connection goes on.
 */
export interface FrameError {
  scope: "connection" | "stream";
  code: ErrorCodeValue;
  /** The stream of the offending frame (0 for connection-level frames). */
  streamId: number;
  /** A short English explanation, for logs and GOAWAY debug data. */
  reason: string;
}

/**
 * What the reader yields: a whole frame, or an error. After a connection
 * error the reader yields that same error forever; after a stream error it
 * goes on with the next frame.
 */
export type ReadEvent =
  | { kind: "frame"; frame: Frame }
  | { kind: "error"; error: FrameError };

/** A connection error with `code`, caused by a frame on `streamId`. */
export function connectionError(
  code: ErrorCodeValue,
  streamId: number,
  reason: string,
): FrameError {
  return { scope: "connection", code, streamId, reason };
}

/** A stream error with `code` on `streamId`. */
export function streamError(
  code: ErrorCodeValue,
  streamId: number,
  reason: string,
): FrameError {
  return { scope: "stream", code, streamId, reason };
}

/** Reads the 9-byte frame header at `offset` (the caller checks the bounds). */
export function readFrameHeader(
  bytes: Uint8Array,
  offset: number,
): FrameHeader {
  return {
    length: (bytes[offset] << 16) | (bytes[offset + 1] << 8) |
      bytes[offset + 2],
    type: bytes[offset + 3],
    flags: bytes[offset + 4],
    streamId: readUint31(bytes, offset + 5),
  };
}

/**
 * Writes a 9-byte frame header into `target` at `offset` and returns the
 * offset just after it. The reserved bit is sent as 0.
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): number {
  target[offset] = length >>> 16;
  target[offset + 1] = length >>> 8;
  target[offset + 2] = length;
  target[offset + 3] = type;
  target[offset + 4] = flags;
  return writeUint32(target, offset + 5, streamId & STREAM_ID_MASK);
}

/** A big-endian 32-bit unsigned integer at `offset`. */
export function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) |
    (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

/** A 31-bit value at `offset`, its reserved high bit ignored. */
export function readUint31(bytes: Uint8Array, offset: number): number {
  return readUint32(bytes, offset) & STREAM_ID_MASK;
}

/** Writes `value` as a big-endian 32-bit integer; returns the next offset. */
export function writeUint32(
  target: Uint8Array,
  offset: number,
  value: number,
): number {
  target[offset] = value >>> 24;
  target[offset + 1] = value >>> 16;
  target[offset + 2] = value >>> 8;
  target[offset + 3] = value;
  return offset + 4;
}

/**
 * Throws a RangeError unless `value` is an integer in 0..`max`; `what`
 * names it in the message. For writers, which must never emit a field
 * that does not fit.
 */
export function assertUint(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what} ${value} is not 0..${max}`);
  }
}

/** `streamId` when it names a stream (1..2^31−1); throws otherwise. */
export function assertStreamId(streamId: number): number {
  if (!Number.isInteger(streamId) || streamId < 1) {
    throw new RangeError(`stream id ${streamId} is not 1..2^31-1`);
  }
  assertUint(streamId, STREAM_ID_MASK, "stream id");
  return streamId;
}

/** Throws unless `priority`'s dependency and weight fit their fields. */
export function assertPrioritySignal(priority: PrioritySignal): void {
  assertUint(priority.dependency, STREAM_ID_MASK, "stream dependency");
  if (
    !Number.isInteger(priority.weight) || priority.weight < 1 ||
    priority.weight > 256
  ) {
    throw new RangeError(`weight ${priority.weight} is not 1..256`);
  }
}

/**
 * Writes the header of a DATA frame whose `length`-byte payload the caller
 * has put (or will put) right after it, at `offset + 9`; returns that
 * offset. Lets file bytes be read straight into their frame.
 */
export function writeDataFrameHeader(
  target: Uint8Array,
  offset: number,
  streamId: number,
  length: number,
  endStream: boolean,
): number {
  if (length > MAX_MAX_FRAME_SIZE) {
    throw new RangeError(`DATA payload of ${length} bytes exceeds 2^24-1`);
  }
  return writeFrameHeader(
    target,
    offset,
    length,
    FrameType.DATA,
    endStream ? Flag.END_STREAM : 0,
    assertStreamId(streamId),
  );
}
