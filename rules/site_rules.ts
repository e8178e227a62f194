/**
 * A site's rules, compiled: the `_redirects` rules and `_headers` blocks
 * indexed by path segment (trie.ts), and the two questions the request
 * path asks of them. Pure: the decisions are data (a redirect's Location,
 * a rewrite's target), never bytes; the file system is asked by the
 * caller, through the same resolver and lookup as any request.
 *
 * @module
 */

import {
  buildPath,
  type ResolvedTarget,
  resolveTarget,
} from "../files/target.ts";
import type { ResponseHeaders } from "../http/response.ts";
import { asciiLower } from "../http/scan.ts";
import { type Captures, matchPattern } from "./pattern.ts";
import {
  decodeQueryPart,
  type QueryCondition,
  type RedirectRule,
} from "./redirects.ts";
import type { HeaderBlock } from "./headers.ts";
import { expandParts, type TargetTemplate } from "./template.ts";
import { firstOf, PatternTrie } from "./trie.ts";

/** What a `_redirects` rule decided for a request. */
export type RuleDecision =
  /** Answer with this status and Location (3xx). */
  | { kind: "redirect"; status: number; location: string; line: number }
  /**
   * Serve `target` under the requested URL: 200 (a rewrite), or the page
   * with an error status (404, 410…). `target` is undefined when the
   * expanded target is not a valid path (then: the status's error page).
   */
  | {
    kind: "rewrite";
    status: number;
    target: ResolvedTarget | undefined;
    line: number;
  };

/** The `_headers` fields for one path. */
export interface PathFields {
  /** For 200, 206 and 304: every matching block's fields. */
  all: ResponseHeaders;
  /**
   * For every other status (redirects, errors): the fields of the
   * matching blocks whose pattern names this exact path (no `*`, no
   * placeholder), which were written for it alone.
   */
  explicit: ResponseHeaders;
}

/** Distinct sets of matching blocks remembered (see `fieldsFor`). */
const MAX_REMEMBERED_FIELD_SETS = 1024;

const NO_VALUES: ReadonlyMap<string, string> = new Map();

/** Compiled `_redirects` and `_headers` of one site. */
export class SiteRules {
  readonly redirects: readonly RedirectRule[];
  readonly headerBlocks: readonly HeaderBlock[];
  #redirectTrie = new PatternTrie();
  #headerTrie = new PatternTrie();
  /** Merged fields by the ids of the blocks that matched. */
  #fieldSets = new Map<string, PathFields>();

  constructor(
    redirects: readonly RedirectRule[],
    headerBlocks: readonly HeaderBlock[],
  ) {
    this.redirects = redirects;
    this.headerBlocks = headerBlocks;
    redirects.forEach((rule, id) => this.#redirectTrie.add(rule.from, id));
    headerBlocks.forEach((b, id) => this.#headerTrie.add(b.pattern, id));
  }

  /** `12 redirects, 5 header blocks`, for the banner and the log. */
  get summary(): string {
    const r = this.redirects.length;
    const h = this.headerBlocks.length;
    return `${r} redirect${r === 1 ? "" : "s"}, ` +
      `${h} header block${h === 1 ? "" : "s"}`;
  }

  /**
   * The first rule, top-down, that applies to `target`: its path and
   * query conditions match, and it is forced (`!`) or `fileExists()` is
   * false (a rule never shadows a file that is there). `fileExists` is
   * asked at most once, and only when a rule that is not forced matches.
   */
  redirectFor(
    target: ResolvedTarget,
    fileExists: boolean | (() => boolean),
  ): RuleDecision | undefined {
    if (this.redirects.length === 0) return undefined;
    const lists = this.#redirectTrie.matchLists(target.segments);
    if (lists.length === 0) return undefined;
    let query: Map<string, string> | undefined;
    let exists = fileExists;
    let values: ReadonlyMap<string, string> = NO_VALUES;
    const applies = (id: number): boolean => {
      const rule = this.redirects[id];
      if (!rule.forced) {
        if (typeof exists === "function") exists = exists();
        if (exists) return false;
      }
      if (rule.conditions.length === 0) {
        values = NO_VALUES;
        return true;
      }
      query ??= parseQuery(target.query);
      const matched = matchConditions(rule.conditions, query);
      if (matched === undefined) return false;
      values = matched;
      return true;
    };
    const id = firstOf(lists, applies);
    if (id === undefined) return undefined;
    const rule = this.redirects[id];
    const captures = matchPattern(rule.from, target.segments)!;
    return decide(rule, captures, values, target.query);
  }

  /**
   * The `_headers` fields for `target`, or undefined when no block
   * matches. Every matching block applies, in file order; a field set by
   * several is sent once with their values joined by `, ` (Set-Cookie
   * excepted: one field each).
   */
  fieldsFor(target: ResolvedTarget): PathFields | undefined {
    if (this.headerBlocks.length === 0) return undefined;
    // The trie's nodes name the set of matching blocks: the key costs the
    // nodes visited, however many blocks match.
    const keys: number[] = [];
    const lists = this.#headerTrie.matchLists(target.segments, keys);
    if (lists.length === 0) return undefined;
    const key = keys.join(",");
    let fields = this.#fieldSets.get(key);
    if (fields === undefined) {
      const ids = lists.flat().sort((a, b) => a - b);
      fields = {
        all: mergeFields(ids.map((id) => this.headerBlocks[id])),
        explicit: mergeFields(
          ids.map((id) => this.headerBlocks[id]).filter((b) => b.pattern.exact),
        ),
      };
      if (this.#fieldSets.size >= MAX_REMEMBERED_FIELD_SETS) {
        this.#fieldSets.clear();
      }
      this.#fieldSets.set(key, fields);
    }
    return fields;
  }
}

/** The blocks' fields as one list: one field per name, values joined. */
function mergeFields(blocks: readonly HeaderBlock[]): ResponseHeaders {
  const out: ResponseHeaders = [];
  const at = new Map<string, number>();
  for (const block of blocks) {
    for (const [name, value] of block.fields) {
      const lower = asciiLower(name);
      const i = at.get(lower);
      if (i === undefined || lower === "set-cookie") {
        at.set(lower, out.length);
        out.push([name, value]);
      } else {
        out[i] = [out[i][0], out[i][1] + ", " + value];
      }
    }
  }
  return out;
}

/**
 * A query string's parameters, decoded (`+` as space); the first of a
 * repeated key wins; parameters with malformed escapes are left out.
 */
export function parseQuery(query: string): Map<string, string> {
  const params = new Map<string, string>();
  if (query === "") return params;
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf("&", start);
    if (end < 0) end = query.length;
    const eq = query.indexOf("=", start);
    const hasValue = eq >= 0 && eq < end;
    const key = decodeQueryPart(query.slice(start, hasValue ? eq : end));
    const value = hasValue ? decodeQueryPart(query.slice(eq + 1, end)) : "";
    if (
      key !== undefined && key !== "" && value !== undefined &&
      !params.has(key)
    ) {
      params.set(key, value);
    }
    start = end + 1;
  }
  return params;
}

/** The captured values when every condition holds, else undefined. */
function matchConditions(
  conditions: readonly QueryCondition[],
  query: ReadonlyMap<string, string>,
): Map<string, string> | undefined {
  const values = new Map<string, string>();
  for (const c of conditions) {
    const value = query.get(c.key);
    if (value === undefined) return undefined;
    if (c.capture !== undefined) values.set(c.capture, value);
    else if (value !== c.value) return undefined;
  }
  return values;
}

/** Expands a rule's target for one request. */
function decide(
  rule: RedirectRule,
  captures: Captures,
  values: ReadonlyMap<string, string>,
  requestQuery: string,
): RuleDecision {
  const to = rule.to;
  const path = expandParts(to.path, captures, values, "path");
  const query = queryOf(to, captures, values, requestQuery);
  const line = rule.line;
  if (to.origin !== "") {
    // Only the site's author writes a URL: the one open redirect there is.
    return {
      kind: "redirect",
      status: rule.status,
      location: to.origin + path + (query === "" ? "" : "?" + query) +
        to.fragment,
      line,
    };
  }
  // A path on this site goes through the request resolver: decoded once,
  // dot segments removed (it cannot climb above the root), and rebuilt so
  // that a Location can never read as another host.
  const resolved = resolveTarget(path);
  const target = resolved.kind === "path" ? { ...resolved, query } : undefined;
  if (rule.status >= 300 && rule.status < 400) {
    if (target === undefined) {
      return { kind: "rewrite", status: 404, target: undefined, line };
    }
    return {
      kind: "redirect",
      status: rule.status,
      location: buildPath(target.segments, target.trailingSlash) +
        (query === "" ? "" : "?" + query) + to.fragment,
      line,
    };
  }
  return { kind: "rewrite", status: rule.status, target, line };
}

/** The query of the result: the target's own, else the request's. */
function queryOf(
  to: TargetTemplate,
  captures: Captures,
  values: ReadonlyMap<string, string>,
  requestQuery: string,
): string {
  return to.query === undefined
    ? requestQuery
    : expandParts(to.query, captures, values, "query");
}
