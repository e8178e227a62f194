/**
 * pws's own `deno lint` rules, registered in `deno.json`.
 *
 * `pws/no-regex-in-runtime`: runtime modules hold no regular expression.
 * Everything the server runs may see attacker-controlled bytes, and a
 * backtracking regex can cost quadratic (or worse) time on a crafted value,
 * stalling the single event loop for every client. Parsers are hand-written
 * linear scans instead (`http/scan.ts`). Tests, benchmarks, tools and the
 * command line (`server/cli.ts`, which reads only the operator's arguments)
 * may use regexes.
 *
 * The rule reports regex literals, `RegExp(…)` with or without `new` (also
 * as `globalThis.RegExp`), and calls of `.match`, `.matchAll` and
 * `.search`, which turn a string argument into a regex.
 *
 * @module
 */

/** The repository root, with "/" separators: this file is in `<root>/tools/`. */
const ROOT_PATH = rootPathOf(new URL("..", import.meta.url));

/** A directory URL as a path ending in "/" (`file:///C:/x/` → `C:/x/`). */
function rootPathOf(url: URL): string {
  const path = decodeURIComponent(url.pathname);
  return path.charAt(2) === ":" ? path.slice(1) : path;
}

/** Folders (relative to the root) whose modules never serve requests. */
const EXEMPT_FOLDERS = ["tests/", "bench/", "tools/"];

/** Single runtime-free files, relative to the root. */
const EXEMPT_FILES = ["server/cli.ts"];

/** String methods that compile their argument as a regex. */
const REGEX_METHODS = new Set(["match", "matchAll", "search"]);

const MESSAGE = "Regular expression in a runtime module: request data must " +
  "be parsed by a linear hand-written scan (a backtracking regex can take " +
  "quadratic time on a crafted value).";
const HINT = "Use or extend the scanners in http/scan.ts.";

/**
 * Whether `filename` (as the linter gives it: an absolute path) is a
 * runtime module of the project whose root is `rootPath`: a `.ts` file
 * that is not a test (`*_test.ts`), not under `tests/`, `bench/` or
 * `tools/`, and not `server/cli.ts`. A file outside the root counts as
 * runtime, so the rule errs on the side of reporting.
 */
export function isRuntimeModule(filename: string, rootPath: string): boolean {
  // Windows paths use backslashes; compare with "/" separators.
  const path = filename.replaceAll("\\", "/");
  if (!path.endsWith(".ts") || path.endsWith("_test.ts")) return false;
  const root = rootPath.endsWith("/") ? rootPath : rootPath + "/";
  if (!path.startsWith(root)) return true;
  const relative = path.slice(root.length);
  if (EXEMPT_FILES.includes(relative)) return false;
  return !EXEMPT_FOLDERS.some((folder) => relative.startsWith(folder));
}

const noRegexInRuntime: Deno.lint.Rule = {
  create(context) {
    if (!isRuntimeModule(context.filename, ROOT_PATH)) return {};
    const report = (node: Deno.lint.Node) =>
      context.report({ node, message: MESSAGE, hint: HINT });
    return {
      Literal(node) {
        if ("regex" in node && node.regex) report(node);
      },
      'NewExpression[callee.name="RegExp"]'(node: Deno.lint.NewExpression) {
        report(node);
      },
      'CallExpression[callee.name="RegExp"]'(node: Deno.lint.CallExpression) {
        report(node);
      },
      // globalThis.RegExp, window.RegExp…
      'NewExpression[callee.property.name="RegExp"]'(
        node: Deno.lint.NewExpression,
      ) {
        report(node);
      },
      CallExpression(node) {
        const callee = node.callee;
        if (
          callee.type === "MemberExpression" && !callee.computed &&
          callee.property.type === "Identifier" &&
          REGEX_METHODS.has(callee.property.name)
        ) {
          report(node);
        }
      },
    };
  },
};

/** The plugin object `deno lint` loads (`"lint": { "plugins": [...] }`). */
const plugin: Deno.lint.Plugin = {
  name: "pws",
  rules: { "no-regex-in-runtime": noRegexInRuntime },
};

export default plugin;
