import pkg from "../package.json" with { type: "json" };

/** st2bot's version, embedded at build time. */
export const VERSION: string = pkg.version;
