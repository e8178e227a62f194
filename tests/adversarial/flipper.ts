/**
 * The attacker's other hand in the race tests: a separate process that
 * swaps what a path inside the served root is, as fast as it can, while
 * the test sends requests. Run as
 *
 * - `flipper.ts symlink LINK TARGET_A TARGET_B SECONDS`: LINK becomes a
 *   symlink to A, then to B, and so on, each swap atomic (a new link
 *   renamed over the old one);
 * - `flipper.ts dirswap DIR OUTSIDE SECONDS`: the real directory DIR is
 *   renamed away and a symlink to OUTSIDE put in its place, then the
 *   directory is renamed back, and so on (so DIR is by turns a real
 *   directory inside the root and a way out of it);
 * - `flipper.ts rotate PATH SECONDS HOME...`: the HOMEs (a file, a FIFO, a
 *   directory made beforehand) take turns at PATH, each renamed there and
 *   back to its home when the next one's turn comes.
 *
 * It stops after SECONDS, or once the file `STOP` names (the environment
 * variable `FLIPPER_STOP_FILE`) exists, and prints the number of swaps it
 * made.
 *
 * @module
 */

const [mode, ...args] = Deno.args;
const stopFile = Deno.env.get("FLIPPER_STOP_FILE");
let flips = 0;

/** True while the run should go on (checked every few hundred swaps). */
function running(until: number): boolean {
  if (Date.now() >= until) return false;
  if (stopFile === undefined || flips % 256 !== 0) return true;
  try {
    Deno.statSync(stopFile);
    return false;
  } catch {
    return true;
  }
}

function symlinkLoop(link: string, a: string, b: string, until: number) {
  const temp = `${link}.flip-${Deno.pid}`;
  while (running(until)) {
    for (const target of [a, b]) {
      try {
        Deno.removeSync(temp);
      } catch {
        // not there
      }
      Deno.symlinkSync(target, temp);
      Deno.renameSync(temp, link);
      flips++;
    }
  }
}

function rotateLoop(path: string, homes: string[], until: number) {
  // The object in place stays there between swaps; the path is missing
  // only between the two renames of a swap.
  let current = 0;
  Deno.renameSync(homes[current], path);
  while (running(until)) {
    Deno.renameSync(path, homes[current]);
    current = (current + 1) % homes.length;
    Deno.renameSync(homes[current], path);
    flips++;
  }
  Deno.renameSync(path, homes[current]);
}

function dirswapLoop(dir: string, outside: string, until: number) {
  const away = `${dir}.away-${Deno.pid}`;
  const link = `${dir}.link-${Deno.pid}`;
  Deno.symlinkSync(outside, link);
  while (running(until)) {
    Deno.renameSync(dir, away);
    Deno.renameSync(link, dir);
    flips++;
    Deno.renameSync(dir, link);
    Deno.renameSync(away, dir);
    flips++;
  }
  Deno.removeSync(link);
}

if (mode === "dirswap") {
  const [dir, outside, seconds] = args;
  dirswapLoop(dir, outside, Date.now() + Number(seconds) * 1000);
} else if (mode === "symlink") {
  const [link, a, b, seconds] = args;
  symlinkLoop(link, a, b, Date.now() + Number(seconds) * 1000);
} else if (mode === "rotate") {
  const [path, seconds, ...homes] = args;
  rotateLoop(path, homes, Date.now() + Number(seconds) * 1000);
} else {
  console.error(`flipper: unknown mode ${mode}`);
  Deno.exit(2);
}
console.log(String(flips));
