/**
 * One watcher over the served folder (`Deno.watchFs`, recursive): it tells
 * its subscribers which paths changed, so that caches can drop exactly what
 * a change touched instead of asking `stat` on every hit, and live reload
 * can tell the browsers. It vouches for nothing it cannot see: when the
 * root lies on a file system that does not report every change (network
 * and FUSE mounts), when the kernel's queue overflows, or when watching
 * fails (`max_user_watches`), it says it is lost, once, and subscribers
 * fall back to `stat` for good.
 *
 * @module
 */

/** What the watcher tells the parts of pws that rely on it. */
export interface WatchSubscriber {
  /**
   * Paths (absolute, as under the root's real path) that were created,
   * written, removed, renamed (both names) or had their attributes
   * changed. A directory's path stands for everything under it.
   */
  changed(paths: readonly string[]): void;
  /** The watcher can no longer vouch for anything; `reason` says why. */
  lost(reason: string): void;
}

/**
 * File-system types on which changes can happen without this kernel seeing
 * them (another machine writes, or a user-space driver does not report):
 * watching them would vouch for stale files.
 */
const UNWATCHABLE_TYPES = new Set([
  "nfs",
  "nfs4",
  "cifs",
  "smb3",
  "smbfs",
  "9p",
  "ceph",
  "glusterfs",
  "afs",
  "lustre",
  "gpfs",
  "vboxsf",
  "vmhgfs",
  "fuse",
  "fuseblk",
]);

/** True when changes on a file system of `type` may go unreported. */
export function isUnwatchableType(type: string): boolean {
  return UNWATCHABLE_TYPES.has(type) || type.startsWith("fuse.");
}

/** One line of `/proc/self/mountinfo`: where it is mounted, and its type. */
export interface MountInfo {
  mountPoint: string;
  type: string;
}

/** Undoes the octal escapes of mountinfo paths (`\040` is a space). */
function unescapeMountPath(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    if (
      text[i] === "\\" && i + 3 < text.length &&
      text.charCodeAt(i + 1) >= 48 && text.charCodeAt(i + 1) <= 55
    ) {
      out += String.fromCharCode(parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    } else out += text[i];
  }
  return out;
}

/**
 * Parses `/proc/self/mountinfo` (proc(5)): the fifth field is the mount
 * point, and the type follows the ` - ` separator.
 */
export function parseMountInfo(text: string): MountInfo[] {
  const mounts: MountInfo[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (fields.length < 5 || dash < 0 || dash + 1 >= fields.length) continue;
    mounts.push({
      mountPoint: unescapeMountPath(fields[4]),
      type: fields[dash + 1],
    });
  }
  return mounts;
}

/**
 * Why watching `rootReal` cannot be trusted, or undefined when it can:
 * the mount that holds the root, and every mount inside it, must be of a
 * type whose changes this kernel sees.
 */
export function unwatchableReason(
  rootReal: string,
  mounts: readonly MountInfo[],
): string | undefined {
  let holder: MountInfo | undefined;
  for (const mount of mounts) {
    const point = mount.mountPoint;
    const holds = point === "/" || rootReal === point ||
      rootReal.startsWith(point + "/");
    if (
      holds &&
      (holder === undefined || point.length >= holder.mountPoint.length)
    ) {
      holder = mount;
    }
    const inside = point.startsWith(rootReal + "/");
    if (inside && isUnwatchableType(mount.type)) {
      return `${point} inside the root is a ${mount.type} mount`;
    }
  }
  if (holder !== undefined && isUnwatchableType(holder.type)) {
    return `the root is on a ${holder.type} mount`;
  }
  return undefined;
}

/** The reason given to subscribers when the server closes the watcher. */
export const SHUTTING_DOWN = "pws is shutting down";

/** Options of {@linkcode RootWatcher.start}. */
export interface WatchOptions {
  /** Mount table text; read from `/proc/self/mountinfo` when absent. */
  mountInfo?: string;
}

/** The watcher of one root. */
export class RootWatcher {
  #watcher: Deno.FsWatcher | undefined;
  #subscribers: WatchSubscriber[] = [];
  #healthy = false;
  #lostReason: string | undefined;

  private constructor(readonly rootReal: string) {}

  /**
   * Starts watching `rootReal`. Never throws: a watcher that cannot be
   * trusted starts lost, with the reason in {@linkcode lostReason}.
   */
  static start(rootReal: string, options: WatchOptions = {}): RootWatcher {
    const watcher = new RootWatcher(rootReal);
    let mountInfo = options.mountInfo;
    if (mountInfo === undefined) {
      try {
        mountInfo = Deno.readTextFileSync("/proc/self/mountinfo");
      } catch {
        watcher.#lostReason = "the mount table is unreadable " +
          "(/proc needs --allow-all), so pws cannot tell whether the " +
          "root's file system reports every change";
        return watcher;
      }
    }
    const reason = unwatchableReason(rootReal, parseMountInfo(mountInfo));
    if (reason !== undefined) {
      watcher.#lostReason = reason + ", whose changes may go unreported";
      return watcher;
    }
    try {
      watcher.#watcher = Deno.watchFs(rootReal, { recursive: true });
    } catch (err) {
      watcher.#lostReason = `watching failed: ${describe(err)}`;
      return watcher;
    }
    watcher.#healthy = true;
    watcher.#pump();
    return watcher;
  }

  /** True while every change under the root is reported. */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** Why the watcher vouches for nothing (undefined while healthy). */
  get lostReason(): string | undefined {
    return this.#lostReason;
  }

  /** Adds a subscriber; one that joins a lost watcher is told at once. */
  subscribe(subscriber: WatchSubscriber): void {
    this.#subscribers.push(subscriber);
    if (!this.#healthy && this.#lostReason !== undefined) {
      subscriber.lost(this.#lostReason);
    }
  }

  /** Stops watching (at shutdown). */
  close(): void {
    this.#lose(SHUTTING_DOWN);
    try {
      this.#watcher?.close();
    } catch {
      // already closed
    }
  }

  async #pump(): Promise<void> {
    try {
      for await (const event of this.#watcher!) {
        if (!this.#healthy) break;
        if (event.flag === "rescan") {
          // The kernel dropped events (queue overflow): nothing is known.
          this.#lose("the kernel's event queue overflowed");
          break;
        }
        // Every kind counts: reads raise no event here (inotify reports
        // writes, and "access" is the close after a write).
        for (const subscriber of this.#subscribers) {
          subscriber.changed(event.paths);
        }
      }
      this.#lose("the watcher stopped");
    } catch (err) {
      this.#lose(`watching failed: ${describe(err)}`);
    }
  }

  #lose(reason: string): void {
    if (!this.#healthy) return;
    this.#healthy = false;
    this.#lostReason = reason;
    for (const subscriber of this.#subscribers) subscriber.lost(reason);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message.split("\n")[0] : String(err);
}
