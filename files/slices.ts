/**
 * Long computations cut into slices, so that one request's big job (a
 * directory listing of thousands of entries) never holds the event loop
 * for more than a millisecond or two: after each slice the caller's
 * `pause` lets other clients' I/O run.
 *
 * @module
 */

/** Lets other work run; resolves when this job may go on. */
export type Pause = () => Promise<void>;

/** A pause that yields to the event loop (timers and I/O run first). */
export const yieldToEventLoop: Pause = () =>
  new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Sorts a copy of `items` with `compare` (stable, like Array.prototype.sort)
 * by a bottom-up merge sort that pauses after every `budget` comparisons.
 */
export async function sortInSlices<T>(
  items: readonly T[],
  compare: (a: T, b: T) => number,
  pause: Pause = yieldToEventLoop,
  budget = 512,
): Promise<T[]> {
  let from = [...items];
  let to: T[] = new Array(from.length);
  let spent = 0;
  for (let width = 1; width < from.length; width *= 2) {
    for (let lo = 0; lo < from.length; lo += 2 * width) {
      const mid = Math.min(lo + width, from.length);
      const hi = Math.min(lo + 2 * width, from.length);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        // Equal items keep their order: the left run wins ties.
        to[k++] = compare(from[j], from[i]) < 0 ? from[j++] : from[i++];
        if (++spent >= budget) {
          spent = 0;
          await pause();
        }
      }
      while (i < mid) to[k++] = from[i++];
      while (j < hi) to[k++] = from[j++];
    }
    [from, to] = [to, from];
  }
  return from;
}

/**
 * Renders `items` with `render`, joined by `separator`, as UTF-8 bytes,
 * pausing after every `budget` items. Each slice is encoded on its own:
 * encoding one string of megabytes would hold the event loop for tens of
 * milliseconds.
 */
export async function encodeInSlices<T>(
  items: readonly T[],
  render: (item: T) => string,
  separator: string,
  pause: Pause = yieldToEventLoop,
  budget = 128,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (let start = 0; start < items.length; start += budget) {
    const end = Math.min(items.length, start + budget);
    let text = start === 0 ? "" : separator;
    for (let i = start; i < end; i++) {
      text += (i === start ? "" : separator) + render(items[i]);
    }
    const chunk = encoder.encode(text);
    chunks.push(chunk);
    total += chunk.length;
    if (end < items.length) await pause();
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

const encoder = new TextEncoder();
