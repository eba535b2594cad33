#!/usr/bin/env node
// `npm run demo` / `npm start`: runs st2bot from source with the Bun that npm installs.
import { join } from "node:path";
import { bun, ensureDeps, root, run } from "./ensure-deps.mjs";

ensureDeps();
process.exit(run(bun, [join(root, "src", "main.ts"), ...process.argv.slice(2)]));
