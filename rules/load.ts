/**
 * Reading a site's `_redirects` and `_headers` from its root, at start-up
 * and again when they change: a check of both files' `stat` at most once
 * a second (from the server's sweeper), a reload when either changed. A
 * reload that does not parse keeps the rules in force and reports its
 * errors once, until the files change again.
 *
 * A site with neither file has no rules (`current` is undefined), and its
 * requests pay nothing for the feature.
 *
 * @module
 */

import { closeQuietly, openVerified, readFullyAt } from "../files/open.ts";
import { MANAGED_FIELDS } from "../response/reply.ts";
import { HEADERS_FILE, parseHeaders } from "./headers.ts";
import { parseRedirects, REDIRECTS_FILE } from "./redirects.ts";
import { SiteRules } from "./site_rules.ts";
import type { WatchSubscriber } from "../files/watch.ts";

/** Largest rules file read: its rules are held in memory, compiled. */
export const MAX_RULES_FILE_BYTES = 1024 * 1024;

/** How often the files are looked at for changes. */
export const RULES_CHECK_INTERVAL_MS = 1000;

/** Options of {@linkcode loadSiteRules}. */
export interface RulesLoadOptions {
  /** With `--hsts`, pws sets Strict-Transport-Security itself. */
  hsts?: boolean;
}

/** The outcome of reading both files. */
export interface RulesLoad {
  /** The compiled rules; undefined when there are errors or no files. */
  rules: SiteRules | undefined;
  /** True when at least one of the files exists. */
  present: boolean;
  /** `_redirects:14: unknown status "30"`: one per malformed line. */
  errors: string[];
  warnings: string[];
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The text of one rules file, undefined when there is none, or an error
 * message. Opened like a served file (files/open.ts: without blocking,
 * judged on what was opened), so a FIFO, a huge file or a link that leads
 * out of the root or to a dotfile is refused, never read.
 */
function readRulesFile(
  root: string,
  name: string,
): string | undefined | { error: string } {
  const path = root + "/" + name;
  try {
    Deno.lstatSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    if (err instanceof Deno.errors.NotADirectory) return undefined;
    return { error: `${name}: cannot read it (${describe(err)})` };
  }
  const opened = openVerified(path, { rootReal: root, dotfiles: "ignore" });
  if (typeof opened === "number") {
    return {
      error: opened === 404
        ? `${name}: not a regular file inside the root`
        : `${name}: cannot read it (status ${opened})`,
    };
  }
  try {
    const size = opened.stamp.size;
    if (size > MAX_RULES_FILE_BYTES) {
      return {
        error: `${name}: larger than ${MAX_RULES_FILE_BYTES / 1024} KiB`,
      };
    }
    const bytes = new Uint8Array(size);
    const filled = readFullyAt(opened.fd, bytes, 0);
    return utf8.decode(bytes.subarray(0, filled));
  } catch (err) {
    return {
      error: err instanceof TypeError
        ? `${name}: not UTF-8 text`
        : `${name}: cannot read it (${describe(err)})`,
    };
  } finally {
    closeQuietly(opened.fd);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message.split("\n")[0] : String(err);
}

/** The fields `_headers` may not set, and why. */
function refusedFields(options: RulesLoadOptions): Map<string, string> {
  const refused = new Map(MANAGED_FIELDS);
  if (options.hsts) {
    refused.set("strict-transport-security", "--hsts sets it");
  }
  return refused;
}

/** Reads and compiles the rules files of the root `rootReal`. */
export function loadSiteRules(
  rootReal: string,
  options: RulesLoadOptions = {},
): RulesLoad {
  const redirectsText = readRulesFile(rootReal, REDIRECTS_FILE);
  const headersText = readRulesFile(rootReal, HEADERS_FILE);
  const errors: string[] = [];
  const warnings: string[] = [];
  let present = false;
  const parseOne = <T>(
    text: string | undefined | { error: string },
    parse: (
      text: string,
    ) => { items: T[]; errors: string[]; warnings: string[] },
  ): T[] => {
    if (text === undefined) return [];
    present = true;
    if (typeof text !== "string") {
      errors.push(text.error);
      return [];
    }
    const parsed = parse(text);
    errors.push(...parsed.errors);
    warnings.push(...parsed.warnings);
    return parsed.items;
  };
  const redirects = parseOne(redirectsText, parseRedirects);
  const refused = refusedFields(options);
  const blocks = parseOne(headersText, (t) => parseHeaders(t, refused));
  return {
    rules: errors.length > 0 || !present
      ? undefined
      : new SiteRules(redirects, blocks),
    present,
    errors,
    warnings,
  };
}

/** What identifies a version of a file: undefined when it is absent. */
function stampOf(path: string): string | undefined {
  try {
    const info = Deno.statSync(path);
    return `${info.ino}:${info.size}:${info.mtime?.getTime()}:` +
      `${info.ctime?.getTime()}`;
  } catch {
    return undefined;
  }
}

/** Where {@linkcode SiteRulesWatcher} reports reloads and failures. */
export type RulesReport = (line: string) => void;

/** Quiet time after the watcher's last event before a reload. */
export const RULES_DEBOUNCE_MS = 50;

/**
 * A site's rules in force, reloaded when the files change. While the
 * root watcher vouches for the root (`watched`), its events say when
 * (see {@linkcode rulesSubscriber}), and a reload follows
 * {@linkcode RULES_DEBOUNCE_MS} after the last of a burst; otherwise
 * `check()`, called often (the server's sweeper), stats both files at
 * most once a second.
 */
export class SiteRulesWatcher {
  /** The rules in force; undefined when the site has none. */
  current: SiteRules | undefined;
  #stamps: string;
  #checkedAt = 0;
  /** The errors last reported, so that a broken version is told once. */
  #reportedErrors: string | undefined;
  #watched = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly rootReal: string,
    private readonly options: RulesLoadOptions,
    private readonly report: RulesReport | undefined,
    /** Called after the rules in force changed (to drop replies kept). */
    private readonly onChange: () => void = () => {},
  ) {
    this.#stamps = this.#readStamps();
    const loaded = loadSiteRules(rootReal, options);
    this.current = loaded.rules;
    // main.ts reported these at start-up already.
    if (loaded.errors.length > 0) this.#reportedErrors = loaded.errors.join();
    this.#checkedAt = Date.now();
  }

  /** The paths of the two files, as the root watcher names them. */
  get paths(): string[] {
    return [
      this.rootReal + "/" + REDIRECTS_FILE,
      this.rootReal + "/" + HEADERS_FILE,
    ];
  }

  #readStamps(): string {
    const [redirects, headers] = this.paths;
    return `${stampOf(redirects)}|${stampOf(headers)}`;
  }

  /**
   * True while a watcher reports every change of the files: `check()`
   * then leaves them alone. Turning it off makes the next `check()` look.
   */
  set watched(watched: boolean) {
    this.#watched = watched;
    if (!watched) this.#checkedAt = 0;
  }

  get watched(): boolean {
    return this.#watched;
  }

  /** The watcher saw a change of a rules file: reload once it settles. */
  changed(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#reload();
    }, RULES_DEBOUNCE_MS);
  }

  /** Cancels a pending reload (at shutdown). */
  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Without a watcher: reloads when a second has passed since the last
   * look and either file changed.
   */
  check(now = Date.now()): void {
    if (this.#watched) return;
    if (now - this.#checkedAt < RULES_CHECK_INTERVAL_MS) return;
    this.#checkedAt = now;
    if (this.#readStamps() === this.#stamps) return;
    this.#reload();
  }

  #reload(): void {
    this.#stamps = this.#readStamps();
    const loaded = loadSiteRules(this.rootReal, this.options);
    if (loaded.errors.length > 0) {
      const key = loaded.errors.join();
      if (key === this.#reportedErrors) return;
      this.#reportedErrors = key;
      for (const error of loaded.errors) {
        this.report?.(`${error} (kept the rules in force)`);
      }
      return;
    }
    const wasFailing = this.#reportedErrors !== undefined;
    this.#reportedErrors = undefined;
    this.current = loaded.rules;
    this.onChange();
    if (this.report === undefined) return;
    this.report(
      loaded.rules === undefined
        ? "rules: no _redirects or _headers any more"
        : `rules reloaded${wasFailing ? " (errors fixed)" : ""}: ` +
          loaded.rules.summary,
    );
    for (const warning of loaded.warnings) this.report(`warning: ${warning}`);
  }
}

/**
 * The root watcher's subscriber for the rules (the one place the two
 * meet): a change of either file, or of a directory above them, reloads
 * them; a lost watcher hands over to the once-a-second check.
 */
export function rulesSubscriber(rules: SiteRulesWatcher): WatchSubscriber {
  const files = rules.paths;
  return {
    changed(paths) {
      for (const path of paths) {
        for (const file of files) {
          if (path === file || file.startsWith(path + "/")) {
            rules.changed();
            return;
          }
        }
      }
    },
    lost() {
      rules.watched = false;
    },
  };
}
