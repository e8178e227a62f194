/**
 * An index of path patterns by segment, so that finding the rules a path
 * matches costs a walk down a tree instead of a test of every rule: with
 * 1,000 rules, a path that matches none is usually dismissed after one
 * map lookup.
 *
 * Each node stands for one pattern prefix; from it, a literal segment
 * leads through a map, any segment through the placeholder child. A walk
 * visits a node at most once per path, so it costs at most the number of
 * nodes (bounded by the rules files' size), whatever the request.
 *
 * @module
 */

import type { PathPattern } from "./pattern.ts";

interface TrieNode {
  /** The node's number in its trie, naming its lists in cache keys. */
  serial: number;
  literal: Map<string, TrieNode> | undefined;
  param: TrieNode | undefined;
  /** Patterns that end here. */
  ends: number[];
  /** Patterns that end here with a splat. */
  splats: number[];
}

function newNode(serial: number): TrieNode {
  return {
    serial,
    literal: undefined,
    param: undefined,
    ends: [],
    splats: [],
  };
}

/** Path patterns, each with a number (its rule's position), by segment. */
export class PatternTrie {
  #nodes = 1;
  #root: TrieNode = newNode(0);
  #size = 0;

  /** Number of patterns added. */
  get size(): number {
    return this.#size;
  }

  /** Adds `pattern` under the number `id`. */
  add(pattern: PathPattern, id: number): void {
    let node = this.#root;
    for (const s of pattern.segments) {
      if (s.kind === "param") {
        node = node.param ??= newNode(this.#nodes++);
      } else {
        node.literal ??= new Map();
        let next = node.literal.get(s.text);
        if (next === undefined) {
          next = newNode(this.#nodes++);
          node.literal.set(s.text, next);
        }
        node = next;
      }
    }
    (pattern.splat ? node.splats : node.ends).push(id);
    this.#size++;
  }

  /**
   * The numbers of the patterns that match `segments`, in ascending order
   * (the order of the rules in their file).
   */
  matches(segments: readonly string[]): number[] {
    const found: number[] = [];
    for (const list of this.matchLists(segments)) {
      for (const id of list) found.push(id);
    }
    return found.length > 1 ? found.sort((a, b) => a - b) : found;
  }

  /**
   * The same numbers as {@linkcode matches}, as the ascending lists of the
   * nodes they end at, unmerged: a caller after the first match that
   * applies merges them lazily (see {@linkcode firstOf}), so thousands of
   * `/*` rules cost no sort per request. When `keys` is given, a number
   * naming each list is pushed on it: together they name the set of
   * matches without listing it.
   */
  matchLists(segments: readonly string[], keys?: number[]): number[][] {
    const lists: number[][] = [];
    const nodes: TrieNode[] = [this.#root];
    const depths: number[] = [0];
    while (nodes.length > 0) {
      const node = nodes.pop()!;
      const depth = depths.pop()!;
      if (node.splats.length > 0) {
        lists.push(node.splats);
        keys?.push(2 * node.serial);
      }
      if (depth === segments.length) {
        if (node.ends.length > 0) {
          lists.push(node.ends);
          keys?.push(2 * node.serial + 1);
        }
        continue;
      }
      const next = node.literal?.get(segments[depth]);
      if (next !== undefined) {
        nodes.push(next);
        depths.push(depth + 1);
      }
      if (node.param !== undefined) {
        nodes.push(node.param);
        depths.push(depth + 1);
      }
    }
    return lists;
  }

  /**
   * The `limit` smallest numbers of the patterns added so far that match
   * every path `pattern` matches (see pattern.ts `covers`), in ascending
   * order. Each node's lists are in ascending order (numbers are added
   * in order), so only their first `limit` entries can count: thousands
   * of `/*` rules cost `limit` each, not thousands.
   */
  coverersOf(pattern: PathPattern, limit: number): number[] {
    const found: number[] = [];
    const take = (ids: readonly number[]) => {
      const n = Math.min(ids.length, limit);
      for (let i = 0; i < n; i++) found.push(ids[i]);
    };
    const want = pattern.segments;
    const nodes: TrieNode[] = [this.#root];
    const depths: number[] = [0];
    while (nodes.length > 0) {
      const node = nodes.pop()!;
      const depth = depths.pop()!;
      // A splat covers whatever follows, the pattern's own splat included.
      take(node.splats);
      if (depth === want.length) {
        if (!pattern.splat) take(node.ends);
        continue;
      }
      const s = want[depth];
      if (s.kind === "literal") {
        const next = node.literal?.get(s.text);
        if (next !== undefined) {
          nodes.push(next);
          depths.push(depth + 1);
        }
      }
      if (node.param !== undefined) {
        nodes.push(node.param);
        depths.push(depth + 1);
      }
    }
    if (found.length > 1) found.sort((a, b) => a - b);
    return found.length > limit ? found.slice(0, limit) : found;
  }
}

/**
 * The smallest number in the ascending `lists` for which `accept` is
 * true, or undefined: a lazy merge that stops at the first accepted, so
 * its cost is the rules tried, times the lists (a handful), not a sort.
 */
export function firstOf(
  lists: readonly (readonly number[])[],
  accept: (id: number) => boolean,
): number | undefined {
  const at = new Array<number>(lists.length).fill(0);
  while (true) {
    let best = -1;
    for (let i = 0; i < lists.length; i++) {
      if (
        at[i] < lists[i].length &&
        (best < 0 || lists[i][at[i]] < lists[best][at[best]])
      ) {
        best = i;
      }
    }
    if (best < 0) return undefined;
    const id = lists[best][at[best]++];
    if (accept(id)) return id;
  }
}
