/**
 * Replying with a directory listing: the directory is opened and verified
 * like any file (files/open.ts) and read through its handle, so a name
 * swapped for a link to an outside directory meanwhile cannot be listed;
 * a symbolic link inside it is listed only if following it leads to
 * something pws would serve.
 *
 * @module
 */

import { injectLiveScript } from "../live/inject.ts";
import { headerValue, type RequestHead } from "../http/request.ts";
import {
  compareListingEntries,
  isListable,
  type ListingEntry,
  listingPageEnd,
  listingPageStart,
  renderEntryRow,
  toJsonEntry,
  wantsJson,
} from "../files/listing.ts";
import { encodeInSlices, sortInSlices } from "../files/slices.ts";
import {
  closeQuietly,
  openVerified,
  openVerifiedDirectory,
  type ServePolicy,
} from "../files/open.ts";
import { errorReply, generatedReply, HTML_TYPE } from "./respond.ts";
import type { Reply, ResponderContext } from "./reply.ts";

/** Entries listed at most; a larger directory says how many were left out. */
export const MAX_LISTED_ENTRIES = 10_000;

/** Entries read between two yields to the event loop. */
const ENTRIES_PER_SLICE = 64;

const encoder = new TextEncoder();

/**
 * The HTML (or, when preferred, JSON) listing of a directory without an
 * index. Dot entries are hidden unless dotfiles are allowed; entries that
 * are neither files nor directories (FIFOs, sockets, devices) and links
 * that lead nowhere servable are left out.
 */
export async function listingReply(
  ctx: ResponderContext,
  head: RequestHead,
  dirPath: string,
  urlPath: string,
): Promise<Reply> {
  const policy: ServePolicy = {
    rootReal: ctx.config.rootReal,
    dotfiles: ctx.config.lookup.dotfiles,
  };
  const dir = openVerifiedDirectory(dirPath, policy);
  if (typeof dir === "number") return errorReply(ctx, dir);
  const entries: ListingEntry[] = [];
  let omitted = 0;
  try {
    let read = 0;
    for await (const entry of Deno.readDir(dir.handlePath)) {
      if (policy.dotfiles !== "allow" && entry.name.charCodeAt(0) === 46) {
        continue;
      }
      // A huge directory must not hold the event loop: yield now and then.
      if (++read % ENTRIES_PER_SLICE === 0) {
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      if (entries.length >= MAX_LISTED_ENTRIES) {
        omitted++;
        continue;
      }
      const listed = describeEntry(dir.handlePath + "/" + entry.name, policy);
      if (listed !== undefined) entries.push({ name: entry.name, ...listed });
    }
  } catch {
    return errorReply(ctx, 404);
  } finally {
    closeQuietly(dir.fd);
  }
  // Sorting and rendering thousands of entries takes tens of ms: in
  // slices, so that other clients are served in between.
  const sorted = (await sortInSlices(entries, compareListingEntries)).filter(
    isListable,
  );
  const json = wantsJson(headerValue(head, "accept"));
  const body = json
    ? concatBytes(
      encoder.encode("["),
      await encodeInSlices(
        sorted,
        (entry) => JSON.stringify(toJsonEntry(urlPath, entry)),
        ",",
      ),
      encoder.encode("]"),
    )
    : concatBytes(
      encoder.encode(listingPageStart(urlPath)),
      await encodeInSlices(sorted, renderEntryRow, "\n"),
      encoder.encode(listingPageEnd(sorted.length, { omitted })),
    );
  return await generatedReply(
    ctx,
    head,
    json ? "application/json; charset=utf-8" : HTML_TYPE,
    // A listing reloads with the folder, like any page under --live.
    !json && ctx.live !== undefined ? injectLiveScript(body) : body,
    [["Cache-Control", "no-cache"]],
  );
}

/**
 * What a listing shows of one entry, or undefined to leave it out. A link
 * is followed only as far as pws itself would: a file is opened and
 * verified (never blocking), a directory likewise.
 */
function describeEntry(
  path: string,
  policy: ServePolicy,
): Omit<ListingEntry, "name"> | undefined {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch {
    return undefined; // vanished
  }
  if (info.isSymlink) {
    const file = openVerified(path, policy);
    if (typeof file !== "number") {
      closeQuietly(file.fd);
      return {
        isDirectory: false,
        size: file.stamp.size,
        mtimeMs: file.stamp.mtimeMs,
      };
    }
    const dir = openVerifiedDirectory(path, policy);
    if (typeof dir === "number") return undefined;
    closeQuietly(dir.fd);
    try {
      info = Deno.statSync(path);
    } catch {
      return undefined;
    }
    if (!info.isDirectory) return undefined;
  }
  if (!info.isFile && !info.isDirectory) return undefined;
  return {
    isDirectory: info.isDirectory,
    size: info.size,
    mtimeMs: info.mtime?.getTime() ?? null,
  };
}

/** The three parts of a listing body, as one array. */
function concatBytes(a: Uint8Array, b: Uint8Array, c: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length + c.length);
  out.set(a);
  out.set(b, a.length);
  out.set(c, a.length + b.length);
  return out;
}
