/**
 * The terminal backend's `[text]` table and what it declares to the registry.
 */
import * as v from "valibot";
import type { BackendInfo } from "../backend.ts";

const TextSchema = v.strictObject({
  user: v.optional(v.string(), "alice"),
  room: v.optional(v.string()),
});

/** `[text]`, validated: who you are in the terminal backend. */
export type TextSettings = v.InferOutput<typeof TextSchema>;

/** The terminal: stdin lines in, stdout lines out. */
export const text: BackendInfo<TextSettings> = {
  name: "text",
  label: "the terminal",
  description: "the terminal: each line you type is a message (try it with st2bot demo)",
  schema: TextSchema,
  template: `user = "alice"               # who you are in the terminal backend (/as @bob to switch)
# room = "ops"               # start in #ops instead of a direct message (/in #ops, /dm)
`,
  sdks: [],
  missing: () => [],
};
