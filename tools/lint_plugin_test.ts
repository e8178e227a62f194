/**
 * Tests of the `pws/no-regex-in-runtime` lint rule: `deno lint` run for
 * real on a throwaway project that holds a copy of the plugin, so the rule
 * sees the same layout (root = the plugin's parent folder) as in pws.
 *
 * @module
 */

import assert from "node:assert/strict";
import { isRuntimeModule } from "./lint_plugin.ts";

const RULE = "pws/no-regex-in-runtime";
const PLUGIN = new URL("./lint_plugin.ts", import.meta.url);

/** Files of the throwaway project: relative path → source. */
const SOURCES: Record<string, string> = {
  // Runtime modules: each line must be reported.
  "http/literal.ts": "export const a = /^[ \t]+|[ \t]+$/g;\n",
  "files/construct.ts": 'export const b = new RegExp("a+");\n',
  "files/call.ts": 'export const c = RegExp("a+");\n',
  "files/global.ts": 'export const h = new globalThis.RegExp("a+");\n',
  "server/server.ts": 'export const d = "x".match("x+");\n',
  "handler.ts": 'export const e = "x".search("x");\n',
  "response/all.ts": 'export const f = [..."x".matchAll(/x/g)];\n',
  // Not runtime: tests, test helpers, benchmarks, tools, the command line.
  "http/literal_test.ts": "export const a = /x+/;\n",
  "tests/helpers.ts": "export const a = /x+/;\n",
  "tests/adversarial/x_test.ts": 'export const a = new RegExp("x");\n',
  "bench/run.ts": "export const a = /x+/;\n",
  "tools/gen.ts": "export const a = /x+/;\n",
  "server/cli.ts": "export const a = /^[0-9]+$/;\n",
  // Runtime code without a regex: string replace/split are fine.
  "http/clean.ts":
    'export const g = "a,b".split(",").join("").replace("a", "b");\n',
};

/** The regex-using lines each runtime file must get a report for. */
const EXPECTED: Record<string, number> = {
  "http/literal.ts": 1,
  "files/construct.ts": 1,
  "files/call.ts": 1,
  "files/global.ts": 1,
  "server/server.ts": 1,
  "handler.ts": 1,
  "response/all.ts": 2, // the .matchAll call and its /x/g
};

interface LintOutput {
  diagnostics: { filename: string; code: string }[];
}

Deno.test("no-regex-in-runtime: deno lint reports every regex in runtime modules and none elsewhere", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pws_lint_plugin_" });
  try {
    await Deno.mkdir(`${dir}/tools`);
    await Deno.copyFile(PLUGIN, `${dir}/tools/lint_plugin.ts`);
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({ lint: { plugins: ["./tools/lint_plugin.ts"] } }),
    );
    for (const [path, source] of Object.entries(SOURCES)) {
      const slash = path.lastIndexOf("/");
      if (slash > 0) {
        await Deno.mkdir(`${dir}/${path.slice(0, slash)}`, { recursive: true });
      }
      await Deno.writeTextFile(`${dir}/${path}`, source);
    }
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["lint", "--json", ...Object.keys(SOURCES)],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    assert.equal(output.success, false, "deno lint must fail on the regexes");
    const { diagnostics } = JSON.parse(stdout) as LintOutput;
    const counts: Record<string, number> = {};
    const root = new URL(`file://${dir}/`).href;
    for (const { filename, code } of diagnostics) {
      assert.equal(code, RULE, `${filename}: only our rule may report`);
      const path = filename.slice(root.length);
      counts[path] = (counts[path] ?? 0) + 1;
    }
    assert.deepEqual(counts, EXPECTED);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("isRuntimeModule() exempts tests, tests/, bench/, tools/ and server/cli.ts", () => {
  const root = "/repo";
  const cases: [string, boolean][] = [
    ["/repo/handler.ts", true],
    ["/repo/http/request.ts", true],
    ["/repo/server/server.ts", true],
    ["/repo/server/cli.ts", false],
    ["/repo/server/cli_test.ts", false],
    ["/repo/http/request_test.ts", false],
    ["/repo/tests/helpers.ts", false],
    ["/repo/tests/adversarial/x_test.ts", false],
    ["/repo/bench/run.ts", false],
    ["/repo/tools/lint_plugin.ts", false],
    ["/repo/static/app.js", false], // not TypeScript
    ["/repo/http/tests/x.ts", true], // only the top-level folders are exempt
    ["/repo/toolsx/a.ts", true],
    ["/elsewhere/tools/a.ts", true], // outside the root: report
    ["C:\\repo\\server\\cli.ts", true], // a different root
  ];
  for (const [filename, runtime] of cases) {
    assert.equal(isRuntimeModule(filename, root), runtime, filename);
  }
  assert.equal(
    isRuntimeModule("C:\\repo\\server\\cli.ts", "C:/repo/"),
    false,
  );
  assert.equal(isRuntimeModule("C:\\repo\\http\\a.ts", "C:/repo"), true);
});
