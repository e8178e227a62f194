import assert from "node:assert/strict";
import { isForeignRequestLine, matchPreface } from "./preface.ts";
import { CLIENT_PREFACE } from "./frame.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("matchPreface: yes, no, and maybe for a prefix", () => {
  assert.equal(matchPreface(CLIENT_PREFACE, 0, 24), "yes");
  assert.equal(matchPreface(CLIENT_PREFACE, 0, 5), "maybe");
  assert.equal(matchPreface(bytes("PUT / HTTP/1.1\r\n"), 0, 16), "no");
  assert.equal(matchPreface(bytes("PRI * HTTP/1.1\r\n\r\n"), 0, 18), "no");
  assert.equal(matchPreface(new Uint8Array(0), 0, 0), "maybe");
});

Deno.test("isForeignRequestLine: only three words without an HTTP version", () => {
  const foreign = (line: string) => {
    const b = bytes(line);
    return isForeignRequestLine(b, 0, b.length);
  };
  assert.ok(foreign("INVALID CONNECTION PREFACE\r\n\r\n"));
  assert.ok(foreign("GET / FTP/1.0\r\n"));
  assert.ok(foreign("GET / HTT\r\n"));
  assert.ok(foreign("GET / X\r\n"));
  // HTTP-shaped lines keep their HTTP/1.1 400.
  assert.equal(foreign("GET / http/1.1\r\n"), false);
  assert.equal(foreign("GET / HTTPS/1.1\r\n"), false);
  assert.equal(foreign("GET / HTTP/1.x\r\n"), false);
  assert.equal(foreign("GET /\r\n"), false);
  assert.equal(foreign("GET  / HTTP/1.1\r\n"), false);
  assert.equal(foreign(" GET / HTTP/1.1\r\n"), false);
  assert.equal(foreign("GET / HTTP/1.1 x\r\n"), false);
  assert.equal(foreign("\x16\x03\x01\x00\xa5\x01\r\n"), false);
  assert.equal(foreign("GET /a\tb X\r\n"), false);
});
