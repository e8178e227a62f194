import assert from "node:assert/strict";
import {
  injectionOffset,
  injectLiveScript,
  LIVE_SCRIPT_TAG,
} from "./inject.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const TAG = decode(LIVE_SCRIPT_TAG);

Deno.test("injectLiveScript() goes before </head>, in any case", () => {
  for (const close of ["</head>", "</HEAD>", "</Head >"]) {
    const page = `<html><head><title>t</title>${close}<body>x</body></html>`;
    assert.equal(
      decode(injectLiveScript(encode(page))),
      page.replace(close, TAG + close),
    );
  }
});

Deno.test("injectLiveScript() uses the last </body> when there is no </head>", () => {
  const page = "<p>a</p><script>'</body>'</script></body></html>";
  const out = decode(injectLiveScript(encode(page)));
  assert.equal(out, `<p>a</p><script>'</body>'</script>${TAG}</body></html>`);
});

Deno.test("injectLiveScript() appends to a page with neither tag", () => {
  for (const page of ["", "<h1>bare</h1>", "</hea", "</bod"]) {
    assert.equal(decode(injectLiveScript(encode(page))), page + TAG);
  }
});

Deno.test("injectionOffset() keeps bytes that are not ASCII intact", () => {
  const page = encode("<p>é ☃</p></head>");
  const at = injectionOffset(page);
  assert.equal(decode(page.subarray(at)), "</head>");
  // A byte that lowercases to '/' or 'h' by bit 0x20 alone must not match.
  assert.equal(injectionOffset(encode("<\x0fhead>")), 7);
});

Deno.test("injectionOffset() is linear on a page of many '<'", () => {
  const page = encode("<".repeat(4_000_000));
  const started = performance.now();
  assert.equal(injectionOffset(page), page.length);
  assert.ok(performance.now() - started < 1000);
});
