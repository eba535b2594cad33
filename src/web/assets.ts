/**
 * The login page's three files, embedded in the bundle (and so in the `bun build --compile`
 * binary) as strings by Bun's text loader: the page works from an empty directory, with no
 * files to ship beside the executable.
 */
// TypeScript types a `*.html` import as an HTML bundle and knows no `.css`/`.js` text modules;
// with `type: "text"` Bun hands each over as the file's contents, a string.
// @ts-ignore: text import (see above)
import html from "../../assets/login.html" with { type: "text" };
// @ts-ignore: text import (see above)
import css from "../../assets/login.css" with { type: "text" };
// @ts-ignore: text import (see above)
import js from "../../assets/login.js" with { type: "text" };

/** One embedded file: its bytes as text and the Content-Type to serve them with. */
export interface Asset {
  readonly body: string;
  readonly type: string;
}

export const LOGIN_PAGE: Asset = { body: html as unknown as string, type: "text/html; charset=utf-8" };

/** The page's assets by file name, as requested under `/login/assets/`. */
export const LOGIN_ASSETS: Readonly<Record<string, Asset>> = {
  "login.css": { body: css as unknown as string, type: "text/css; charset=utf-8" },
  "login.js": { body: js as unknown as string, type: "text/javascript; charset=utf-8" },
};
