/**
 * `npm run build`: compiles st2bot into one executable, dist/st2bot, with the login page and
 * everything else it needs embedded, so it runs from an empty directory without node_modules.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
// `--outdir DIR` builds elsewhere (the tests build into a temporary directory).
const flag = process.argv.indexOf("--outdir");
const outDir = flag > 0 && process.argv[flag + 1] ? process.argv[flag + 1]! : join(root, "dist");
mkdirSync(outDir, { recursive: true });
const outfile = join(outDir, "st2bot");
// `--no-minify`: keeps function names, for JavaScriptCore's compile reports (scripts/bench/jit-overlap.ts).
const minify = !process.argv.includes("--no-minify");
// The bytecode `st2bot run` uses, first (recorded by scripts/bytecode-order.ts): ~3 MB less of
// the executable resident. A profile from an older build still applies; without one, the
// default layout.
const order = join(root, "scripts", "st2bot.order");
const result = await Bun.build({
  entrypoints: [join(root, "src", "main.ts")],
  compile: {
    outfile,
    bytecodeOrder: existsSync(order) && order,
    // The JIT held back (tier-up thresholds x1000): code that runs once at start-up, and a
    // command now and then, stay in the interpreter instead of pulling the JIT compilers' code
    // into memory (~3 MB; with 5,000 aliases the optimising compiler's ~6 MB, which x250 still
    // let the index build pull in: 68 -> 63 MB idle, start 0.44 -> 0.50 s; 238 aliases the same
    // either way). src/lib/load.ts restores the normal policy once there is sustained work (a
    // burst, a busy channel). Measured by scripts/bench/outside.ts and bigaliases.ts.
    jitPolicy: 1000,
  },
  minify,
  // Ship JavaScriptCore bytecode: start-up skips parsing the 2.5 MB bundle (exec → first
  // request ~40 ms instead of ~200 ms, measured by scripts/bench/outside.ts).
  bytecode: true,
  format: "esm",
  // Modules loaded on demand (the other chat backends, demo, doctor…) become chunks of their
  // own, loaded only when imported: ~3 MB less resident memory for `run` with one backend.
  splitting: true,
  sourcemap: "linked",
  // Optional native speedups of ws that Bun does not need.
  external: ["bufferutil", "utf-8-validate"],
  // Embedded files (the login page's script and style) keep their names, in a folder of their
  // own that @elysiajs/static serves whole (src/web/assets.ts).
  naming: { asset: "static/[name].[ext]" },
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built ${outfile}`);
