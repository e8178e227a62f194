import assert from "node:assert/strict";
import { StatCache } from "./stat_cache.ts";
import { RootWatcher } from "./watch.ts";

/** A temp root with a watcher and a vouched stat cache subscribed to it. */
async function withWatchedRoot(
  fn: (root: string, stats: StatCache) => Promise<void>,
): Promise<void> {
  const root = Deno.realPathSync(
    Deno.makeTempDirSync({ prefix: "pws-stats-" }),
  );
  const watcher = RootWatcher.start(root);
  assert.ok(watcher.healthy, watcher.lostReason);
  const stats = new StatCache(root, true);
  watcher.subscribe(stats);
  try {
    await fn(root, stats);
  } finally {
    watcher.close();
    Deno.removeSync(root, { recursive: true });
  }
}

/** Waits until `stat` of `path` satisfies `ok` (events take a few ms). */
async function eventually(
  stats: StatCache,
  path: string,
  ok: (info: Deno.FileInfo | undefined) => boolean,
): Promise<number> {
  const start = performance.now();
  while (true) {
    let info: Deno.FileInfo | undefined;
    try {
      info = stats.stat(path);
    } catch {
      info = undefined;
    }
    if (ok(info)) return performance.now() - start;
    assert.ok(performance.now() - start < 2000, `stale answer for ${path}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Waits long enough that paths created now are no longer "new". */
const settle = () => new Promise((r) => setTimeout(r, 1100));

Deno.test("StatCache: a repeated stat is answered from memory until the file changes", async () => {
  await withWatchedRoot(async (root, stats) => {
    Deno.writeTextFileSync(`${root}/a.txt`, "one");
    await settle();
    assert.equal(stats.stat(`${root}/a.txt`).size, 3);
    const misses = stats.misses;
    for (let i = 0; i < 100; i++) stats.stat(`${root}/a.txt`);
    assert.equal(stats.misses, misses, "no file-system call");
    Deno.writeTextFileSync(`${root}/a.txt`, "three");
    await eventually(stats, `${root}/a.txt`, (i) => i?.size === 5);
    Deno.removeSync(`${root}/a.txt`);
    await eventually(stats, `${root}/a.txt`, (i) => i === undefined);
  });
});

Deno.test("StatCache: a missing path is remembered until it appears", async () => {
  await withWatchedRoot(async (root, stats) => {
    assert.throws(() => stats.stat(`${root}/later.txt`), Deno.errors.NotFound);
    const misses = stats.misses;
    assert.throws(() => stats.stat(`${root}/later.txt`), Deno.errors.NotFound);
    assert.equal(stats.misses, misses);
    Deno.writeTextFileSync(`${root}/later.txt`, "now");
    await eventually(stats, `${root}/later.txt`, (i) => i?.size === 3);
  });
});

Deno.test("StatCache: changes where a symlink leads drop the answers through it", async () => {
  await withWatchedRoot(async (root, stats) => {
    Deno.mkdirSync(`${root}/sub`);
    Deno.writeTextFileSync(`${root}/sub/f.txt`, "1");
    Deno.symlinkSync(`${root}/sub`, `${root}/dir-link`);
    Deno.symlinkSync(`${root}/sub/f.txt`, `${root}/file-link`);
    await settle();
    assert.equal(stats.stat(`${root}/dir-link/f.txt`).size, 1);
    assert.equal(stats.stat(`${root}/file-link`).size, 1);
    assert.throws(() => stats.stat(`${root}/dir-link/g.txt`));
    Deno.writeTextFileSync(`${root}/sub/f.txt`, "22");
    await eventually(stats, `${root}/dir-link/f.txt`, (i) => i?.size === 2);
    await eventually(stats, `${root}/file-link`, (i) => i?.size === 2);
    Deno.writeTextFileSync(`${root}/sub/g.txt`, "333");
    await eventually(stats, `${root}/dir-link/g.txt`, (i) => i?.size === 3);
    // Retargeting the link itself.
    Deno.writeTextFileSync(`${root}/other.txt`, "4444");
    Deno.removeSync(`${root}/file-link`);
    Deno.symlinkSync(`${root}/other.txt`, `${root}/file-link`);
    await eventually(stats, `${root}/file-link`, (i) => i?.size === 4);
  });
});

Deno.test("StatCache: renaming a directory drops everything below it", async () => {
  await withWatchedRoot(async (root, stats) => {
    Deno.mkdirSync(`${root}/d`);
    Deno.writeTextFileSync(`${root}/d/x.txt`, "x");
    await settle();
    assert.equal(stats.stat(`${root}/d/x.txt`).size, 1);
    Deno.renameSync(`${root}/d`, `${root}/e`);
    await eventually(stats, `${root}/d/x.txt`, (i) => i === undefined);
    Deno.mkdirSync(`${root}/d`);
    Deno.writeTextFileSync(`${root}/d/x.txt`, "yy");
    await eventually(stats, `${root}/d/x.txt`, (i) => i?.size === 2);
  });
});

Deno.test("StatCache: hard-linked files and new directories are never kept", async () => {
  await withWatchedRoot(async (root, stats) => {
    Deno.writeTextFileSync(`${root}/h.txt`, "h");
    Deno.linkSync(`${root}/h.txt`, `${root}/h2.txt`);
    await settle();
    stats.stat(`${root}/h.txt`);
    const misses = stats.misses;
    stats.stat(`${root}/h.txt`);
    assert.equal(stats.misses, misses + 1, "a hard-linked file is asked again");
    Deno.mkdirSync(`${root}/fresh`);
    Deno.writeTextFileSync(`${root}/fresh/f.txt`, "f");
    // Once the directory's creation was reported, nothing under it is
    // kept for a second: the kernel watch on it may lag its first files.
    await new Promise((r) => setTimeout(r, 100));
    stats.stat(`${root}/fresh/f.txt`);
    const before = stats.misses;
    stats.stat(`${root}/fresh/f.txt`);
    assert.equal(
      stats.misses,
      before + 1,
      "under a new directory: asked again",
    );
  });
});

Deno.test("StatCache: a lost watcher turns every call into a real stat", () => {
  const root = Deno.realPathSync(Deno.makeTempDirSync());
  try {
    Deno.writeTextFileSync(`${root}/a.txt`, "a");
    const stats = new StatCache(root, true);
    stats.stat(`${root}/a.txt`);
    stats.lost("test");
    assert.equal(stats.vouched, false);
    assert.equal(stats.size, 0);
    Deno.writeTextFileSync(`${root}/a.txt`, "abc");
    assert.equal(stats.stat(`${root}/a.txt`).size, 3);
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
