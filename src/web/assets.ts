/**
 * The login page's files, embedded in the bundle (and so in the `bun build --compile` binary):
 * the page works from an empty directory, with no files to ship beside the executable.
 *
 * - `login.html` is a string (Bun's text loader): it is served at `/login/<id>` for every id.
 * - `assets/static/` (the script and the style) is served by @elysiajs/static under
 *   `/login/assets/`. Bun's file loader hands over each file's path: on disk when run from
 *   source, inside the executable (`/$bunfs/root/static/…`) when compiled, where
 *   scripts/build.ts's `naming.asset` keeps the names and puts them in a folder of their own
 *   (without it they get hashed names beside the executable's own entry, which the plugin
 *   would then list and serve).
 */
import { dirname } from "node:path";
// TypeScript types a `*.html` import as an HTML bundle and knows no `.css`/`.js` file modules;
// with `type: "text"` Bun hands over the file's contents, with `type: "file"` its path.
// @ts-ignore: text import (see above)
import html from "../../assets/login.html" with { type: "text" };
// @ts-ignore: file import (see above)
import css from "../../assets/static/login.css" with { type: "file" };
// @ts-ignore: file import (see above)
import js from "../../assets/static/login.js" with { type: "file" };

/** One embedded file: its bytes as text and the Content-Type to serve them with. */
export interface Asset {
  readonly body: string;
  readonly type: string;
}

export const LOGIN_PAGE: Asset = { body: html as unknown as string, type: "text/html; charset=utf-8" };

/** The folder @elysiajs/static serves under `/login/assets/`: the page's script and style, nothing else. */
export const STATIC_DIR: string = dirname(css as unknown as string);

// Both must land in one folder, or the page would load without its script.
if (dirname(js as unknown as string) !== STATIC_DIR) {
  throw new Error(`the login page's assets were embedded in two folders (${STATIC_DIR}, ${dirname(js as unknown as string)}): check naming.asset in scripts/build.ts`);
}
