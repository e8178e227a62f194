/**
 * Where live reload's script goes into an HTML page (pure, no I/O): before
 * the first `</head>`, else before the last `</body>`, else at the end, so
 * that pages without either tag reload too. The scan is linear and
 * ASCII-case-insensitive.
 *
 * @module
 */

/** The reserved path prefix of live reload (never a file under `--live`). */
export const LIVE_PREFIX = "/__pws/";
/** The client script's path. */
export const LIVE_SCRIPT_PATH = "/__pws/live.js";
/** The event stream's path. */
export const LIVE_EVENTS_PATH = "/__pws/events";

/**
 * The element added to HTML pages: an external script, so that a page
 * whose Content-Security-Policy allows `'self'` scripts still runs it.
 */
export const LIVE_SCRIPT_TAG: Uint8Array = new TextEncoder().encode(
  `<script src="${LIVE_SCRIPT_PATH}" defer></script>`,
);

const HEAD_CLOSE = new TextEncoder().encode("</head");
const BODY_CLOSE = new TextEncoder().encode("</body");

/** True when `html` holds `needle` at `at`, ASCII letters in any case. */
function matchesAt(html: Uint8Array, needle: Uint8Array, at: number): boolean {
  for (let j = 0; j < needle.length; j++) {
    // The needle is lowercase; only ASCII capitals fold to it.
    let byte = html[at + j];
    if (byte >= 0x41 && byte <= 0x5a) byte |= 0x20;
    if (byte !== needle[j]) return false;
  }
  return true;
}

/** Index of the first (or last) occurrence of `needle`, or -1. */
function find(html: Uint8Array, needle: Uint8Array, last: boolean): number {
  const limit = html.length - needle.length;
  if (last) {
    for (let i = limit; i >= 0; i--) {
      if (html[i] === 0x3c && matchesAt(html, needle, i)) return i;
    }
  } else {
    for (let i = 0; i <= limit; i++) {
      if (html[i] === 0x3c && matchesAt(html, needle, i)) return i;
    }
  }
  return -1;
}

/** Where the script tag goes in `html`. */
export function injectionOffset(html: Uint8Array): number {
  const head = find(html, HEAD_CLOSE, false);
  if (head >= 0) return head;
  const body = find(html, BODY_CLOSE, true);
  return body >= 0 ? body : html.length;
}

/** A copy of `html` with the live reload script tag added. */
export function injectLiveScript(html: Uint8Array): Uint8Array {
  const at = injectionOffset(html);
  const out = new Uint8Array(html.length + LIVE_SCRIPT_TAG.length);
  out.set(html.subarray(0, at));
  out.set(LIVE_SCRIPT_TAG, at);
  out.set(html.subarray(at), at + LIVE_SCRIPT_TAG.length);
  return out;
}
