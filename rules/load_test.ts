/**
 * Tests of reading the rules files from a real directory: the messages
 * for files that cannot be rules, and the once-a-second reload.
 *
 * @module
 */

import assert from "node:assert/strict";
import { RootWatcher } from "../files/watch.ts";
import { loadSiteRules, rulesSubscriber, SiteRulesWatcher } from "./load.ts";

/** Runs `fn` in a fresh temp dir (its real path), then removes it. */
async function inTempDir(
  fn: (dir: string) => Promise<void> | void,
): Promise<void> {
  const dir = Deno.realPathSync(await Deno.makeTempDir({ prefix: "pws_rl_" }));
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("rules files: none means no rules and no messages", async () => {
  await inTempDir((dir) => {
    assert.deepEqual(loadSiteRules(dir), {
      rules: undefined,
      present: false,
      errors: [],
      warnings: [],
    });
  });
});

Deno.test("rules files: what cannot be a rules file gets its message", async () => {
  await inTempDir(async (dir) => {
    const root = `${dir}/root`;
    Deno.mkdirSync(root);
    Deno.writeTextFileSync(`${dir}/outside`, "/a /b 302\n");

    Deno.mkdirSync(`${root}/_redirects`);
    Deno.writeFileSync(`${root}/_headers`, new Uint8Array([0x2f, 0xff, 0x0a]));
    let loaded = loadSiteRules(root);
    assert.deepEqual(loaded.errors, [
      "_redirects: not a regular file inside the root",
      "_headers: not UTF-8 text",
    ]);
    assert.equal(loaded.rules, undefined);
    assert.ok(loaded.present);

    Deno.removeSync(`${root}/_redirects`);
    Deno.removeSync(`${root}/_headers`);
    // A link out of the root is refused, never read.
    Deno.symlinkSync(`${dir}/outside`, `${root}/_redirects`);
    Deno.writeTextFileSync(`${root}/_headers`, "#".repeat(1024 * 1024 + 1));
    loaded = loadSiteRules(root);
    assert.deepEqual(loaded.errors, [
      "_redirects: not a regular file inside the root",
      "_headers: larger than 1024 KiB",
    ]);

    Deno.removeSync(`${root}/_redirects`);
    Deno.removeSync(`${root}/_headers`);
    const fifo = await new Deno.Command("mkfifo", {
      args: [`${root}/_redirects`],
    }).output().catch(() => undefined);
    if (fifo?.success) {
      // Opened without blocking, and refused: no writer ever comes.
      loaded = loadSiteRules(root);
      assert.deepEqual(loaded.errors, [
        "_redirects: not a regular file inside the root",
      ]);
    }
  });
});

Deno.test("rules watcher: looks at most once a second; a failed reload is reported once and keeps the rules", async () => {
  await inTempDir((dir) => {
    Deno.writeTextFileSync(`${dir}/_redirects`, "/a /b 302\n");
    const reports: string[] = [];
    let changes = 0;
    const watcher = new SiteRulesWatcher(
      dir,
      {},
      (line) => reports.push(line),
      () => changes++,
    );
    const first = watcher.current;
    assert.equal(first?.summary, "1 redirect, 0 header blocks");
    let now = Date.now();

    Deno.writeTextFileSync(`${dir}/_redirects`, "/a /b 302\n/c /d 303\n");
    watcher.check(now + 10);
    assert.equal(watcher.current, first, "checked before a second passed");
    now += 1001;
    watcher.check(now);
    assert.equal(watcher.current?.summary, "2 redirects, 0 header blocks");
    assert.equal(changes, 1);
    const second = watcher.current;

    Deno.writeTextFileSync(`${dir}/_redirects`, "/a /b 30\n");
    now += 1001;
    watcher.check(now);
    now += 1001;
    watcher.check(now);
    assert.equal(watcher.current, second);
    assert.equal(changes, 1);
    assert.deepEqual(reports, [
      "rules reloaded: 2 redirects, 0 header blocks",
      '_redirects:1: unknown status "30" (kept the rules in force)',
    ]);

    Deno.removeSync(`${dir}/_redirects`);
    now += 1001;
    watcher.check(now);
    assert.equal(watcher.current, undefined);
    assert.equal(changes, 2);
    assert.equal(reports.at(-1), "rules: no _redirects or _headers any more");
  });
});

Deno.test("rules watcher: the root watcher's events reload the rules, with no stat check", async () => {
  await inTempDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/_redirects`, "/a /b 302\n");
    const watcher = RootWatcher.start(dir);
    if (!watcher.healthy) {
      watcher.close();
      console.warn(`skipped: ${watcher.lostReason}`);
      return;
    }
    const reports: string[] = [];
    const rules = new SiteRulesWatcher(dir, {}, (l) => reports.push(l));
    rules.watched = true;
    watcher.subscribe(rulesSubscriber(rules));
    try {
      // Unrelated files do not reload anything.
      Deno.writeTextFileSync(`${dir}/page.html`, "x");
      Deno.writeTextFileSync(`${dir}/_redirects`, "/a /b 302\n/c /d 303\n");
      const deadline = Date.now() + 3000;
      while (rules.current?.redirects.length !== 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(rules.current?.summary, "2 redirects, 0 header blocks");
      assert.deepEqual(reports, [
        "rules reloaded: 2 redirects, 0 header blocks",
      ]);
      // While a watcher vouches, check() never looks at the files.
      const idle = new SiteRulesWatcher(dir, {}, undefined);
      idle.watched = true;
      Deno.writeTextFileSync(`${dir}/_headers`, "/x\n  X-A: 1\n");
      idle.check(Date.now() + 5000);
      assert.equal(idle.current?.headerBlocks.length, 0);
      // A lost watcher hands over to the stat check.
      rulesSubscriber(idle).lost("test");
      assert.equal(idle.watched, false);
      idle.check(Date.now() + 5000);
      assert.equal(idle.current?.headerBlocks.length, 1);
    } finally {
      rules.close();
      watcher.close();
    }
  });
});
