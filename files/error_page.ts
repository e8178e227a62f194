/**
 * The small built-in HTML pages for error statuses.
 *
 * @module
 */

import { STATUS_REASONS } from "../http/response.ts";

const pageCache = new Map<number, Uint8Array>();
const encoder = new TextEncoder();

/**
 * Returns a tiny HTML page for a status, e.g. "404 Not Found". The text is
 * fixed per status, so nothing about the request or the file system leaks
 * into it.
 */
export function builtInErrorPage(status: number): Uint8Array {
  let page = pageCache.get(status);
  if (page === undefined) {
    const title = `${status} ${STATUS_REASONS[status] ?? "Error"}`;
    page = encoder.encode(
      `<!doctype html>\n<html lang="en"><head><meta charset="utf-8">` +
        `<title>${title}</title></head>\n<body><h1>${title}</h1>` +
        `<p><a href="/">Home</a></p></body></html>\n`,
    );
    pageCache.set(status, page);
  }
  return page;
}
