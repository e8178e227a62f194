/**
 * RFC 9218 Extensible Priorities for HTTP/2: reading a priority signal
 * (the `priority` request field, or a PRIORITY_UPDATE frame's field
 * value), and {@linkcode PriorityQueue}, which orders the streams ready to
 * send by it.
 *
 * A signal is a Structured Field Dictionary (RFC 8941 §3.2) such as
 * `u=1, i`, read by the linear scanner of `structured_dictionary.ts`.
 *
 * @module
 */

import { type MemberValue, scanDictionary } from "./structured_dictionary.ts";

/** A stream's priority (RFC 9218 §4). */
export interface StreamPriority {
  /** 0 (most urgent) to 7 (least): the `u` parameter, default 3. */
  readonly urgency: number;
  /** Whether it is useful in pieces: the `i` parameter, default false. */
  readonly incremental: boolean;
}

/** RFC 9218 §4's defaults: urgency 3, not incremental. */
export const DEFAULT_PRIORITY: StreamPriority = Object.freeze({
  urgency: 3,
  incremental: false,
});

/**
 * The priority pws gives a stream whose client sent no signal at all (no
 * `priority` field, no PRIORITY_UPDATE): urgency 3 like RFC 9218's
 * default, but incremental. RFC 9218 §4's default is non-incremental, so
 * same-urgency streams would be sent one after the other, whole; clients
 * that never signal (curl, h2load, Node's http2, most libraries) would see
 * their parallel downloads stall behind the first instead of sharing the
 * connection as parallel HTTP/1.1 connections do. A client that signals
 * gets RFC 9218 semantics exactly.
 */
export const UNSIGNALLED_PRIORITY: StreamPriority = Object.freeze({
  urgency: 3,
  incremental: true,
});

/**
 * Longest priority field value read; a longer one is ignored whole. A real
 * signal is a few bytes (`u=7, i`), so scanning kilobytes of one would be
 * work spent only on an attacker's behalf.
 */
export const MAX_PRIORITY_FIELD_LENGTH = 1024;

/**
 * The `u` and `i` members of a priority field value: undefined when
 * absent, or present with a value RFC 9218 §4 says to ignore (wrong type,
 * urgency out of range).
 */
export interface PrioritySignal {
  urgency: number | undefined;
  incremental: boolean | undefined;
}

/**
 * Reads a priority field value, or returns undefined when the field must
 * be ignored as a whole: not a valid Dictionary (RFC 8941 §4.2, which
 * drops a field that fails to parse) or over
 * {@linkcode MAX_PRIORITY_FIELD_LENGTH}. Unknown members and parameters
 * are ignored (RFC 9218 §4); when a key repeats, the last one counts
 * (RFC 8941 §3.2), even when its value is then ignored.
 */
export function readPrioritySignal(
  fieldValue: string,
): PrioritySignal | undefined {
  if (fieldValue.length > MAX_PRIORITY_FIELD_LENGTH) return undefined;
  const signal: PrioritySignal = {
    urgency: undefined,
    incremental: undefined,
  };
  const valid = scanDictionary(fieldValue, (key, value) => {
    if (key === "u") signal.urgency = urgencyOf(value);
    else if (key === "i") signal.incremental = incrementalOf(value);
  });
  return valid ? signal : undefined;
}

/** A `u` value: an Integer from 0 to 7, else ignored (RFC 9218 §4.1). */
function urgencyOf(value: MemberValue): number | undefined {
  return value.kind === "integer" && value.value >= 0 && value.value <= 7
    ? value.value
    : undefined;
}

/** An `i` value: a Boolean, else ignored (RFC 9218 §4.2). */
function incrementalOf(value: MemberValue): boolean | undefined {
  return value.kind === "boolean" ? value.value : undefined;
}

/**
 * The priority a field value signals: its valid `u` and `i` members over
 * `base`, or `base` itself when the field is ignored as a whole (see
 * {@linkcode readPrioritySignal}). Never throws; the urgency is always an
 * integer from 0 to 7 when `base`'s is.
 */
export function parsePriority(
  fieldValue: string,
  base: StreamPriority = DEFAULT_PRIORITY,
): StreamPriority {
  const signal = readPrioritySignal(fieldValue);
  return signal === undefined ? base : signalOver(signal, base);
}

/**
 * The priority of a new stream from its request's `priority` field (as
 * `requestFromFields` in `request.ts` returns it):
 * {@linkcode UNSIGNALLED_PRIORITY} without one, or when it is ignored as
 * a whole (then it is as if absent); RFC 9218 semantics otherwise.
 */
export function requestPriority(
  fieldValue: string | undefined,
): StreamPriority {
  const signal = fieldValue === undefined
    ? undefined
    : readPrioritySignal(fieldValue);
  return signal === undefined
    ? UNSIGNALLED_PRIORITY
    : signalOver(signal, DEFAULT_PRIORITY);
}

/**
 * A stream's priority after a PRIORITY_UPDATE frame carrying `fieldValue`:
 * `current` when the field is ignored as a whole; otherwise the signal
 * replaces it, absent members at RFC 9218's defaults, since the frame's
 * parameters override all those sent before (RFC 9218 §7).
 */
export function updatedPriority(
  current: StreamPriority,
  fieldValue: string,
): StreamPriority {
  const signal = readPrioritySignal(fieldValue);
  return signal === undefined ? current : signalOver(signal, DEFAULT_PRIORITY);
}

function signalOver(
  signal: PrioritySignal,
  base: StreamPriority,
): StreamPriority {
  return {
    urgency: signal.urgency ?? base.urgency,
    incremental: signal.incremental ?? base.incremental,
  };
}

/** Urgency levels, 0 to 7 (RFC 9218 §4.1). */
const URGENCY_LEVELS = 8;

/** Where a stream sits in a {@linkcode PriorityQueue}. */
interface Slot<T> {
  readonly stream: T;
  urgency: number;
  incremental: boolean;
  /** Index in its level's heap (non-incremental streams). */
  heapIndex: number;
  /** Neighbours in its level's ring (incremental streams). */
  prev: Slot<T> | undefined;
  next: Slot<T> | undefined;
}

/** The streams of one urgency. */
interface Level<T> {
  /** Non-incremental streams: a binary min-heap by stream id. */
  heap: Slot<T>[];
  /** Incremental streams, in round-robin order: first is served next. */
  first: Slot<T> | undefined;
  last: Slot<T> | undefined;
}

/**
 * Orders ready streams for sending per RFC 9218 §10: lowest urgency first;
 * within an urgency, non-incremental streams one at a time in stream-id
 * order (each whole before the next: it is only useful whole) before
 * incremental ones, which share round-robin, a quantum each.
 *
 * Each operation costs O(log n) at most (a heap per urgency for the
 * non-incremental streams, a linked ring for the incremental ones, and at
 * most eight levels to look at), so choosing a quantum's stream never
 * costs more as streams multiply.
 */
export class PriorityQueue<T extends { id: number; priority: StreamPriority }> {
  #slots = new Map<T, Slot<T>>();
  #levels: Level<T>[] = Array.from(
    { length: URGENCY_LEVELS },
    () => ({ heap: [], first: undefined, last: undefined }),
  );

  /** Streams in the queue. */
  get size(): number {
    return this.#slots.size;
  }

  /** True when `s` is in the queue. */
  has(s: T): boolean {
    return this.#slots.has(s);
  }

  /** Adds `s` by its `priority`; a stream already in the queue stays put. */
  add(s: T): void {
    if (this.#slots.has(s)) return;
    const slot: Slot<T> = {
      stream: s,
      urgency: levelOf(s.priority.urgency),
      incremental: s.priority.incremental,
      heapIndex: -1,
      prev: undefined,
      next: undefined,
    };
    this.#slots.set(s, slot);
    this.#insert(slot);
  }

  /** Takes `s` out of the queue (nothing when it is not in it). */
  remove(s: T): void {
    const slot = this.#slots.get(s);
    if (slot === undefined) return;
    this.#detach(slot);
    this.#slots.delete(s);
  }

  /**
   * Sets `s.priority` to `p` and, when `s` is queued, moves it: to the back
   * of its new urgency's incremental streams, or among the non-incremental
   * ones by id. A priority that changes nothing leaves it where it is.
   */
  update(s: T, p: StreamPriority): void {
    s.priority = p;
    const slot = this.#slots.get(s);
    if (slot === undefined) return;
    const urgency = levelOf(p.urgency);
    if (urgency === slot.urgency && p.incremental === slot.incremental) return;
    this.#detach(slot);
    slot.urgency = urgency;
    slot.incremental = p.incremental;
    this.#insert(slot);
  }

  /** The stream to send from next, or undefined when none is queued. */
  next(): T | undefined {
    for (const level of this.#levels) {
      if (level.heap.length > 0) return level.heap[0].stream;
      if (level.first !== undefined) return level.first.stream;
    }
    return undefined;
  }

  /**
   * Records that a quantum of `s` was sent: an incremental stream goes to
   * the back of its urgency's round; a non-incremental one keeps its turn
   * until it is removed.
   */
  sent(s: T): void {
    const slot = this.#slots.get(s);
    if (slot === undefined || !slot.incremental) return;
    const level = this.#levels[slot.urgency];
    if (level.last === slot) return;
    this.#unlink(level, slot);
    this.#append(level, slot);
  }

  #insert(slot: Slot<T>): void {
    const level = this.#levels[slot.urgency];
    if (slot.incremental) {
      this.#append(level, slot);
      return;
    }
    slot.heapIndex = level.heap.length;
    level.heap.push(slot);
    siftUp(level.heap, slot.heapIndex);
  }

  #detach(slot: Slot<T>): void {
    const level = this.#levels[slot.urgency];
    if (slot.incremental) {
      this.#unlink(level, slot);
      return;
    }
    const heap = level.heap;
    const index = slot.heapIndex;
    const last = heap.pop()!;
    slot.heapIndex = -1;
    if (last === slot) return;
    heap[index] = last;
    last.heapIndex = index;
    siftUp(heap, index);
    siftDown(heap, last.heapIndex);
  }

  #append(level: Level<T>, slot: Slot<T>): void {
    slot.prev = level.last;
    slot.next = undefined;
    if (level.last === undefined) level.first = slot;
    else level.last.next = slot;
    level.last = slot;
  }

  #unlink(level: Level<T>, slot: Slot<T>): void {
    if (slot.prev === undefined) level.first = slot.next;
    else slot.prev.next = slot.next;
    if (slot.next === undefined) level.last = slot.prev;
    else slot.next.prev = slot.prev;
    slot.prev = slot.next = undefined;
  }
}

/**
 * An urgency as a level index, clamped to 0–7 (NaN counts as the default):
 * a priority made elsewhere must not index past the levels.
 */
function levelOf(urgency: number): number {
  if (urgency >= URGENCY_LEVELS - 1) return URGENCY_LEVELS - 1;
  if (urgency >= 0) return Math.floor(urgency);
  return urgency < 0 ? 0 : DEFAULT_PRIORITY.urgency;
}

interface HeapSlot {
  readonly stream: { id: number };
  heapIndex: number;
}

function siftUp(heap: HeapSlot[], index: number): void {
  const slot = heap[index];
  while (index > 0) {
    const parent = (index - 1) >> 1;
    if (heap[parent].stream.id <= slot.stream.id) break;
    heap[index] = heap[parent];
    heap[index].heapIndex = index;
    index = parent;
  }
  heap[index] = slot;
  slot.heapIndex = index;
}

function siftDown(heap: HeapSlot[], index: number): void {
  const slot = heap[index];
  while (true) {
    const left = 2 * index + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child =
      right < heap.length && heap[right].stream.id < heap[left].stream.id
        ? right
        : left;
    if (heap[child].stream.id >= slot.stream.id) break;
    heap[index] = heap[child];
    heap[index].heapIndex = index;
    index = child;
  }
  heap[index] = slot;
  slot.heapIndex = index;
}
