/**
 * Micro-benchmark, printed rather than asserted (timing on a shared
 * machine would flake): µs to decode a browser's request head and to
 * encode pws's response head: the first head of a connection ("cold":
 * creating the decoder or encoder, literals, Huffman) and a later one
 * ("warm": mostly table indices).
 */
import assert from "node:assert/strict";
import { HeaderBlockDecoder } from "./decoder.ts";
import { type EncoderField, HeaderBlockEncoder } from "./encoder.ts";

function browserRequest(path: string): EncoderField[] {
  return [
    [":method", "GET"],
    [":authority", "localhost:8000"],
    [":scheme", "https"],
    [":path", path],
    ["sec-ch-ua", '"Chromium";v="136", "Not.A/Brand";v="99"'],
    ["sec-ch-ua-mobile", "?0"],
    ["sec-ch-ua-platform", '"Linux"'],
    [
      "user-agent",
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like " +
      "Gecko) Chrome/136.0.0.0 Safari/537.36",
    ],
    ["accept", "*/*"],
    ["sec-fetch-site", "same-origin"],
    ["sec-fetch-mode", "no-cors"],
    ["sec-fetch-dest", "script"],
    ["referer", "https://localhost:8000/"],
    ["accept-encoding", "gzip, deflate, br, zstd"],
    ["accept-language", "en-US,en;q=0.9"],
    ["priority", "u=1"],
  ];
}

function pwsResponse(length: number): EncoderField[] {
  return [
    [":status", "200"],
    ["date", "Tue, 03 Jun 2025 10:00:00 GMT"],
    ["server", "pws"],
    ["content-type", "text/javascript; charset=utf-8"],
    ["content-length", String(length)],
    ["etag", '"5f3a-1a2b3c"'],
    ["last-modified", "Mon, 02 Jun 2025 09:00:00 GMT"],
    ["cache-control", "no-cache"],
    ["vary", "accept-encoding"],
    ["accept-ranges", "bytes"],
  ];
}

/** Average µs per call of `f` over `runs`, after a warm-up. */
function microseconds(runs: number, f: (i: number) => void): number {
  for (let i = 0; i < Math.min(runs, 500); i++) f(i);
  const start = performance.now();
  for (let i = 0; i < runs; i++) f(i);
  return (performance.now() - start) * 1000 / runs;
}

Deno.test("micro-benchmark: request head decode, response head encode", () => {
  const browser = new HeaderBlockEncoder();
  const cold = browser.encode(browserRequest("/"));
  const warm = browser.encode(browserRequest("/assets/app.js?v=123"));
  const warmDecoder = new HeaderBlockDecoder();
  warmDecoder.decode(cold);
  let fields = 0;
  const decodeCold = microseconds(5000, () => {
    const result = new HeaderBlockDecoder().decode(cold);
    if (result.kind === "fields") fields += result.fields.length;
  });
  const decodeWarm = microseconds(20000, () => {
    const result = warmDecoder.decode(warm);
    if (result.kind === "fields") fields += result.fields.length;
  });
  const warmEncoder = new HeaderBlockEncoder();
  let bytes = 0;
  const encodeCold = microseconds(5000, (i) => {
    bytes += new HeaderBlockEncoder().encode(pwsResponse(i)).length;
  });
  const encodeWarm = microseconds(20000, (i) => {
    bytes += warmEncoder.encode(pwsResponse(i)).length;
  });
  assert.ok(fields > 0 && bytes > 0);
  console.log(
    `    HPACK per head: decode request ${decodeCold.toFixed(2)} µs cold ` +
      `(${cold.length} B), ${decodeWarm.toFixed(2)} µs warm ` +
      `(${warm.length} B); encode response ${encodeCold.toFixed(2)} µs ` +
      `cold, ${encodeWarm.toFixed(2)} µs warm`,
  );
});
