/**
 * The `_redirects` file, as Netlify defined it and Cloudflare Pages reads
 * it: one rule a line, `from [key=:value …] to [status[!]]`, `#` comments.
 * Pure: text in, rules and messages out (each message names the line, as
 * `_redirects:14: unknown status "30"`).
 *
 * Errors are lines pws cannot read as intended (the server refuses to
 * start, or keeps its previous rules on reload). Warnings are lines it
 * reads but that will not do what they seem to: rules that can never
 * apply, and features of the hosts pws does not have, which are skipped.
 *
 * @module
 */

import { isOws } from "../http/scan.ts";
import { percentDecode } from "../files/target.ts";
import {
  capturedNames,
  isNameStart,
  nameEnd,
  parsePathPattern,
  type PathPattern,
} from "./pattern.ts";
import { isAbsoluteUrl, parseTarget, type TargetTemplate } from "./template.ts";
import { PatternTrie } from "./trie.ts";

import { REDIRECTS_FILE } from "./names.ts";

export { REDIRECTS_FILE };

/** A query condition: the key must be present (with this value, if set). */
export interface QueryCondition {
  key: string;
  /** The placeholder its value is captured as (`id=:id`). */
  capture?: string;
  /** The exact value required (`lang=fr`). */
  value?: string;
}

/** One rule of `_redirects`. */
export interface RedirectRule {
  /** Its line number in the file (from 1). */
  line: number;
  from: PathPattern;
  conditions: QueryCondition[];
  to: TargetTemplate;
  /** 200 rewrites; 3xx redirects; 4xx serves the target with that status. */
  status: number;
  /** `!`: applies even where a file exists at the path. */
  forced: boolean;
}

/** What a rules file held: its rules, errors and warnings. */
export interface ParsedFile<T> {
  items: T[];
  /** `file:line: message`, one per malformed line. */
  errors: string[];
  /** `file:line: message`, for lines that will not act as they seem. */
  warnings: string[];
}

/** The statuses a rule may have, and what each does. */
const STATUSES = new Set([200, 301, 302, 303, 307, 308, 403, 404, 410, 451]);

/** The status of a rule without one (Netlify's; Cloudflare's is 302). */
export const DEFAULT_REDIRECT_STATUS = 301;

/** Splits a line into words at SP and HTAB; a word starting `#` ends it. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && isOws(line.charCodeAt(i))) i++;
    if (i >= line.length || line.charCodeAt(i) === 0x23 /* # */) break;
    const start = i;
    while (i < line.length && !isOws(line.charCodeAt(i))) i++;
    words.push(line.slice(start, i));
  }
  return words;
}

/**
 * Splits a file's text into lines (LF or CRLF), dropping a leading BOM.
 * Each line is checked for control characters by the caller.
 */
export function splitLines(text: string): string[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i <= body.length; i++) {
    if (i < body.length && body.charCodeAt(i) !== 0x0a) continue;
    const end = i > start && body.charCodeAt(i - 1) === 0x0d ? i - 1 : i;
    lines.push(body.slice(start, end));
    start = i + 1;
  }
  return lines;
}

/** True when a line holds a control character other than HTAB. */
export function hasControl(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/** Parses the text of a `_redirects` file. */
export function parseRedirects(text: string): ParsedFile<RedirectRule> {
  const out: ParsedFile<RedirectRule> = { items: [], errors: [], warnings: [] };
  const lines = splitLines(text);
  for (let n = 0; n < lines.length; n++) {
    const at = `${REDIRECTS_FILE}:${n + 1}: `;
    if (hasControl(lines[n])) {
      out.errors.push(at + "control character in the line");
      continue;
    }
    const words = splitWords(lines[n]);
    if (words.length === 0) continue;
    const parsed = parseRule(words, n + 1);
    if ("error" in parsed) out.errors.push(at + parsed.error);
    else if ("skip" in parsed) out.warnings.push(at + parsed.skip);
    else {
      for (const w of parsed.warnings) out.warnings.push(at + w);
      out.items.push(parsed.rule);
    }
  }
  out.warnings.push(...unreachableWarnings(out.items));
  out.warnings.sort(byLine);
  return out;
}

/** Orders `file:line: …` messages by line number. */
function byLine(a: string, b: string): number {
  return lineOf(a) - lineOf(b);
}

function lineOf(message: string): number {
  const colon = message.indexOf(":");
  return Number(message.slice(colon + 1, message.indexOf(":", colon + 1)));
}

type RuleOutcome =
  | { rule: RedirectRule; warnings: string[] }
  | { error: string }
  | { skip: string };

/** One line's words as a rule. */
function parseRule(words: string[], line: number): RuleOutcome {
  const [fromText] = words;
  if (isAbsoluteUrl(fromText)) {
    return {
      skip: `"${fromText}": rules for other hosts are not supported ` +
        `(pws matches paths only); rule ignored`,
    };
  }
  const from = parsePathPattern(fromText);
  if (typeof from === "string") return { error: from };
  const known = capturedNames(from);
  const conditions: QueryCondition[] = [];
  let i = 1;
  for (; i < words.length && isCondition(words[i]); i++) {
    const condition = parseCondition(words[i]);
    if (typeof condition === "string") return { error: condition };
    if (conditions.some((c) => c.key === condition.key)) {
      return { error: `query key "${condition.key}" appears twice` };
    }
    if (condition.capture !== undefined) {
      if (known.has(condition.capture)) {
        return {
          error: `placeholder ":${condition.capture}" is captured twice`,
        };
      }
      known.add(condition.capture);
    }
    conditions.push(condition);
  }
  if (i >= words.length) return { error: `no target after "${fromText}"` };
  const target = parseTarget(words[i++], known);
  if ("error" in target) return { error: target.error };
  let status = DEFAULT_REDIRECT_STATUS;
  let forced = false;
  if (i < words.length && !words[i].includes("=")) {
    const word = words[i++];
    forced = word.endsWith("!");
    const digits = forced ? word.slice(0, -1) : word;
    status = digits.length === 3 ? Number(digits) : NaN;
    if (!STATUSES.has(status) || !isPlainNumber(digits)) {
      return { error: `unknown status "${word}"` };
    }
  }
  if (i < words.length) {
    return words[i].includes("=")
      ? {
        skip: `"${words[i]}": only query conditions before the target are ` +
          `supported (not country, language, role or cookie ones); ` +
          `rule ignored`,
      }
      : { error: `unexpected "${words[i]}" after the status` };
  }
  const { template } = target;
  if (template.origin !== "" && (status === 200 || status >= 400)) {
    return {
      error: status === 200
        ? `proxying to "${template.source}" (200 with a URL) is not ` +
          `supported; use a 3xx status to redirect there`
        : `status ${status} needs a page of this site, not a URL`,
    };
  }
  if (template.fragment !== "" && (status === 200 || status >= 400)) {
    return { error: `a fragment means nothing in a ${status} target` };
  }
  return {
    rule: { line, from, conditions, to: template, status, forced },
    warnings: target.unknownNames.map((name) =>
      `":${name}" in "${template.source}" is not captured by this rule; ` +
      `kept as written`
    ),
  };
}

function isPlainNumber(digits: string): boolean {
  for (let i = 0; i < digits.length; i++) {
    const c = digits.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return digits.length > 0;
}

/** A word between the path and the target: `key=value`. */
function isCondition(word: string): boolean {
  return word.includes("=") && word.charCodeAt(0) !== 0x2f &&
    !isAbsoluteUrl(word);
}

/** `key=:name` or `key=value`, decoded as a query would be. */
function parseCondition(word: string): QueryCondition | string {
  const eq = word.indexOf("=");
  const key = decodeQueryPart(word.slice(0, eq));
  const raw = word.slice(eq + 1);
  if (key === undefined || key === "") {
    return `bad query condition "${word}" (use key=:name or key=value)`;
  }
  if (raw.charCodeAt(0) === 0x3a /* : */) {
    const name = raw.slice(1);
    if (
      name === "" || !isNameStart(name.charCodeAt(0)) ||
      nameEnd(name, 0) !== name.length
    ) {
      return `bad placeholder "${raw}" in "${word}"`;
    }
    return { key, capture: name };
  }
  const value = decodeQueryPart(raw);
  if (value === undefined) return `malformed percent-encoding in "${word}"`;
  return { key, value };
}

/**
 * Decodes one key or value of a query as forms encode it: `+` is a space,
 * then percent-escapes. Undefined for a malformed escape.
 */
export function decodeQueryPart(text: string): string | undefined {
  return percentDecode(text.includes("+") ? text.replaceAll("+", " ") : text);
}

/** Canonical text of what a rule matches, for duplicate detection. */
function matchKey(rule: RedirectRule): string {
  let key = "";
  for (const s of rule.from.segments) {
    key += s.kind === "param" ? "\0:" : "\0=" + s.text;
  }
  if (rule.from.splat) key += "\0*";
  const conditions = rule.conditions.map((c) =>
    c.capture !== undefined ? c.key + "\0:" : c.key + "\0=" + c.value
  ).sort();
  return key + "\0?" + conditions.join("\0&");
}

/**
 * True when every request `b`'s conditions accept is accepted by `a`'s
 * (the paths aside).
 */
function conditionsCover(a: RedirectRule, b: RedirectRule): boolean {
  return a.conditions.every((ca) =>
    b.conditions.some((cb) =>
      cb.key === ca.key &&
      (ca.capture !== undefined ||
        (cb.value !== undefined && cb.value === ca.value))
    )
  );
}

/**
 * Earlier rules weighed per rule when looking for unreachable ones. A
 * rule whose first few coverers all differ in conditions or forcing is
 * not reported: a warning is advice, and its cost must stay linear in the
 * number of rules (30,000 `/*` rules took 41 s when every coverer was
 * weighed).
 */
const MAX_COVERERS = 8;

/**
 * Warnings for rules that can never apply: an earlier rule matches every
 * request they match, and applies whenever they would (it is forced, or
 * they are not: a rule that is not forced yields only to a file, which
 * would stop the later one too).
 */
function unreachableWarnings(rules: readonly RedirectRule[]): string[] {
  const warnings: string[] = [];
  const trie = new PatternTrie();
  const firstByKey = new Map<string, RedirectRule>();
  for (let id = 0; id < rules.length; id++) {
    const rule = rules[id];
    const at = `${REDIRECTS_FILE}:${rule.line}: `;
    const key = matchKey(rule) + "\0>" + rule.to.source + "\0" + rule.status +
      (rule.forced ? "!" : "");
    const same = firstByKey.get(key);
    if (same !== undefined) {
      warnings.push(at + `duplicate of line ${same.line}`);
    } else {
      firstByKey.set(key, rule);
      for (const earlier of trie.coverersOf(rule.from, MAX_COVERERS)) {
        const a = rules[earlier];
        if (conditionsCover(a, rule) && (a.forced || !rule.forced)) {
          warnings.push(
            at + `never applies: line ${a.line} ("${a.from.source}") ` +
              `matches every request it matches, first`,
          );
          break;
        }
      }
    }
    trie.add(rule.from, id);
  }
  return warnings;
}
