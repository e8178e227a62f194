import assert from "node:assert/strict";
import { compileIgnore, matchSegment } from "./ignore.ts";

Deno.test("matchSegment() handles *, ? and literal characters", () => {
  const cases: [string, string, boolean][] = [
    ["*.log", "a.log", true],
    ["*.log", "a.log.txt", false],
    ["a?c", "abc", true],
    ["a?c", "ac", false],
    ["*", "", true],
    ["a*b*c", "axxbyyc", true],
    ["a*b*c", "axxbyy", false],
    ["**", "x", true],
    ["build", "build", true],
    ["build", "builds", false],
  ];
  for (const [glob, name, expected] of cases) {
    assert.equal(matchSegment(glob, name), expected, `${glob} ~ ${name}`);
  }
});

Deno.test("matchSegment() stays fast on many stars against a long name", () => {
  const started = performance.now();
  assert.equal(matchSegment("*a".repeat(50) + "b", "a".repeat(5000)), false);
  assert.ok(performance.now() - started < 1000);
});

Deno.test("compileIgnore() ignores dotfiles and node_modules by default", () => {
  const ignored = compileIgnore([]);
  assert.equal(ignored("index.html"), false);
  assert.equal(ignored(".git/index"), true);
  assert.equal(ignored("css/.site.css.swp"), true);
  assert.equal(ignored("node_modules/x/y.js"), true);
  assert.equal(ignored("a/node_modules/b"), true);
});

Deno.test("compileIgnore() matches segment globs anywhere and path globs from the root", () => {
  const ignored = compileIgnore(["*.log", "dist/**", "/drafts/*.md", "tmp/"]);
  assert.equal(ignored("server.log"), true);
  assert.equal(ignored("deep/down/x.log"), true);
  assert.equal(ignored("dist/app.js"), true);
  assert.equal(ignored("dist/a/b/c.js"), true);
  assert.equal(ignored("src/dist/app.js"), false);
  assert.equal(ignored("drafts/post.md"), true);
  assert.equal(ignored("drafts/post.html"), false);
  assert.equal(ignored("drafts/old/post.md"), false, "old is not *.md");
  assert.equal(ignored("tmp"), true);
  assert.equal(ignored("tmp/x"), true);
  assert.equal(ignored("index.html"), false);
});
