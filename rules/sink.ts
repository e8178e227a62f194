/**
 * `_headers` fields added to the replies of one request, whatever decided
 * them (a file, a rewrite, a listing, a redirect, an error): a sink that
 * wraps the protocol's sink and edits each reply's fields on the way.
 *
 * @module
 */

import {
  addExtraFields,
  type Reply,
  type ReplySink,
  type Reusable,
} from "../response/reply.ts";
import type { PathFields } from "./site_rules.ts";

/**
 * True for the statuses every matching block applies to: a file's 200,
 * its ranges (206), and its 304, which must carry the same Cache-Control
 * and Vary as the 200 it stands for (RFC 9110 §15.4.5).
 */
export function takesAllFields(status: number): boolean {
  return status === 200 || status === 206 || status === 304;
}

/** A sink that adds a path's `_headers` fields to what it sends. */
export class RuleFieldsSink implements ReplySink {
  constructor(
    private readonly inner: ReplySink,
    private readonly fields: PathFields,
  ) {}

  get canStream(): boolean {
    return this.inner.canStream;
  }

  send(reply: Reply): Promise<void> {
    const extra = takesAllFields(reply.status)
      ? this.fields.all
      : this.fields.explicit;
    // The same replacement rules as --header: one value per field, Vary
    // merged so that negotiation stays declared.
    if (extra.length > 0) addExtraFields(reply.fields, extra);
    return this.inner.send(reply);
  }

  /**
   * Never reuses a kept reply: those are kept per file, and this path's
   * fields may differ from another URL's that serves the same file.
   */
  sendReusable(_reusable: Reusable, build: () => Reply): Promise<void> {
    return this.send(build());
  }
}
