import assert from "node:assert/strict";
import { compileIgnore } from "./ignore.ts";
import {
  LiveHub,
  MAX_WAIT_MS,
  messageFor,
  SETTLE_MS,
  urlPathOf,
} from "./hub.ts";

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Reads the next `count` messages of a stream (after its hello). */
async function take(
  stream: AsyncIterator<Uint8Array>,
  count: number,
): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const next = await stream.next();
    if (next.done) break;
    out.push(decode(next.value));
  }
  return out;
}

Deno.test("messageFor() swaps stylesheets only when nothing but CSS changed", () => {
  assert.equal(
    decode(messageFor(["/a.css", "/b/c.css"])),
    'event: css\ndata: ["/a.css","/b/c.css"]\n\n',
  );
  assert.equal(
    decode(messageFor(["/a.css", "/index.html"])),
    "event: reload\ndata: {}\n\n",
  );
  assert.equal(decode(messageFor("all")), "event: reload\ndata: {}\n\n");
});

Deno.test("urlPathOf() percent-encodes segments and refuses paths outside", () => {
  assert.equal(
    urlPathOf("/srv/site", "/srv/site/a b/ç.html"),
    "/a%20b/%C3%A7.html",
  );
  assert.equal(urlPathOf("/srv/site", "/srv/sitemap/x"), undefined);
  assert.equal(urlPathOf("/srv/site", "/etc/passwd"), undefined);
});

Deno.test("LiveHub: a burst of changes becomes one message, after it settles", async () => {
  const hub = new LiveHub("/r", compileIgnore([]), "id-1");
  const stream = hub.open()![Symbol.asyncIterator]();
  assert.match((await take(stream, 1))[0], /event: hello\ndata: id-1/);
  const started = Date.now();
  for (let i = 0; i < 200; i++) {
    hub.changed([`/r/build/file${i}.js`]);
    if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  const [message] = await take(stream, 1);
  assert.equal(message, "event: reload\ndata: {}\n\n");
  assert.ok(Date.now() - started >= SETTLE_MS);
  assert.equal(hub.batchesSent, 1);
  hub.close();
  assert.equal((await stream.next()).done, true);
  assert.equal(hub.streams, 0);
});

Deno.test("LiveHub: changes that never stop are still sent within MAX_WAIT_MS", async () => {
  const hub = new LiveHub("/r", compileIgnore([]), "id");
  const stream = hub.open()![Symbol.asyncIterator]();
  await take(stream, 1);
  const started = Date.now();
  const writer = setInterval(() => hub.changed(["/r/a.html"]), SETTLE_MS / 3);
  try {
    await take(stream, 1);
    const waited = Date.now() - started;
    assert.ok(
      waited >= MAX_WAIT_MS - 50 && waited < MAX_WAIT_MS + 500,
      `${waited}`,
    );
  } finally {
    clearInterval(writer);
    hub.close();
  }
});

Deno.test("LiveHub: ignored paths, dotfiles and node_modules send nothing", async () => {
  const hub = new LiveHub("/r", compileIgnore(["*.log"]), "id");
  const stream = hub.open()![Symbol.asyncIterator]();
  await take(stream, 1);
  hub.changed([
    "/r/.git/index",
    "/r/node_modules/x/y.js",
    "/r/server.log",
    "/elsewhere/a.html",
  ]);
  await new Promise((r) => setTimeout(r, SETTLE_MS * 3));
  assert.equal(hub.batchesSent, 0);
  hub.changed(["/r/site.css"]);
  assert.equal(
    (await take(stream, 1))[0],
    'event: css\ndata: ["/site.css"]\n\n',
  );
  hub.close();
});

Deno.test("LiveHub: a stream that does not read keeps one reload, not a backlog", async () => {
  const hub = new LiveHub("/r", compileIgnore([]), "id");
  const stream = hub.open()![Symbol.asyncIterator]();
  await take(stream, 1);
  for (let i = 0; i < 20; i++) {
    hub.changed([`/r/${i}.css`]);
    await new Promise((r) => setTimeout(r, SETTLE_MS + 30));
  }
  hub.close();
  const rest = await take(stream, 100);
  assert.ok(rest.length <= 4, `${rest.length} messages queued`);
});

Deno.test("LiveHub: refuses streams once closed", () => {
  const hub = new LiveHub("/r", compileIgnore([]), "id");
  hub.close();
  assert.equal(hub.accepting, false);
  assert.equal(hub.open(), undefined);
});
