import assert from "node:assert/strict";
import {
  isUnwatchableType,
  parseMountInfo,
  RootWatcher,
  unwatchableReason,
  type WatchSubscriber,
} from "./watch.ts";

const MOUNTINFO = [
  "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
  "40 22 0:35 / /mnt/share rw,relatime shared:20 - nfs4 srv:/export rw",
  "41 22 0:36 / /home/me/My\\040Sites rw - fuse.sshfs me@h: rw",
  "42 22 0:37 / /srv/site/remote rw - cifs //h/s rw",
  "43 22 0:38 / /tmp rw - tmpfs tmpfs rw",
].join("\n");

Deno.test("parseMountInfo: mount points (unescaped) and types", () => {
  assert.deepEqual(parseMountInfo(MOUNTINFO), [
    { mountPoint: "/", type: "ext4" },
    { mountPoint: "/mnt/share", type: "nfs4" },
    { mountPoint: "/home/me/My Sites", type: "fuse.sshfs" },
    { mountPoint: "/srv/site/remote", type: "cifs" },
    { mountPoint: "/tmp", type: "tmpfs" },
  ]);
});

Deno.test("unwatchableReason: the root's own mount, and mounts inside it", () => {
  const mounts = parseMountInfo(MOUNTINFO);
  assert.equal(unwatchableReason("/srv/www", mounts), undefined);
  assert.equal(unwatchableReason("/tmp/site", mounts), undefined);
  assert.match(unwatchableReason("/mnt/share/site", mounts)!, /nfs4/);
  assert.match(unwatchableReason("/mnt/share", mounts)!, /nfs4/);
  assert.match(unwatchableReason("/home/me/My Sites/a", mounts)!, /sshfs/);
  // A network mount inside the root makes the whole root unwatchable.
  assert.match(unwatchableReason("/srv/site", mounts)!, /remote.*cifs/);
  // A sibling with a common prefix is not inside.
  assert.equal(unwatchableReason("/mnt/shared", mounts), undefined);
  assert.ok(isUnwatchableType("fuse.rclone"));
  assert.ok(!isUnwatchableType("btrfs"));
});

/** A subscriber that records what it is told. */
class Recorder implements WatchSubscriber {
  paths: string[] = [];
  lostReasons: string[] = [];
  #waiters: (() => void)[] = [];
  changed(paths: readonly string[]): void {
    this.paths.push(...paths);
    for (const wake of this.#waiters.splice(0)) wake();
  }
  lost(reason: string): void {
    this.lostReasons.push(reason);
  }
  /** Resolves once `path` was reported (or fails after 2 s). */
  async seen(path: string): Promise<void> {
    const deadline = Date.now() + 2000;
    while (!this.paths.includes(path)) {
      assert.ok(Date.now() < deadline, `no event for ${path}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }
}

Deno.test("RootWatcher: writes, renames, deletions, chmod and new directories are reported", async () => {
  const root = Deno.realPathSync(
    Deno.makeTempDirSync({ prefix: "pws-watch-" }),
  );
  const watcher = RootWatcher.start(root);
  const recorder = new Recorder();
  watcher.subscribe(recorder);
  try {
    assert.ok(watcher.healthy, watcher.lostReason);
    Deno.writeTextFileSync(`${root}/a.txt`, "1");
    await recorder.seen(`${root}/a.txt`);
    recorder.paths = [];
    Deno.writeTextFileSync(`${root}/b.tmp`, "2");
    Deno.renameSync(`${root}/b.tmp`, `${root}/a.txt`);
    await recorder.seen(`${root}/a.txt`);
    recorder.paths = [];
    Deno.chmodSync(`${root}/a.txt`, 0o600);
    await recorder.seen(`${root}/a.txt`);
    Deno.mkdirSync(`${root}/d`);
    Deno.writeTextFileSync(`${root}/d/c.txt`, "3");
    await recorder.seen(`${root}/d/c.txt`);
    recorder.paths = [];
    Deno.writeTextFileSync(`${root}/d/c.txt`, "33");
    await recorder.seen(`${root}/d/c.txt`);
    Deno.renameSync(`${root}/d`, `${root}/e`);
    await recorder.seen(`${root}/d`);
    Deno.removeSync(`${root}/a.txt`);
    await recorder.seen(`${root}/a.txt`);
    assert.deepEqual(recorder.lostReasons, []);
  } finally {
    watcher.close();
    Deno.removeSync(root, { recursive: true });
  }
  assert.deepEqual(recorder.lostReasons, ["pws is shutting down"]);
});

Deno.test("RootWatcher: a root on a network mount is never vouched for", () => {
  const watcher = RootWatcher.start("/mnt/share/site", {
    mountInfo: MOUNTINFO,
  });
  const recorder = new Recorder();
  watcher.subscribe(recorder);
  assert.equal(watcher.healthy, false);
  assert.match(
    watcher.lostReason!,
    /nfs4 mount, whose changes may go unreported/,
  );
  assert.equal(recorder.lostReasons.length, 1, "a late subscriber is told");
  watcher.close();
});
