/**
 * `redact` scans a line once whatever the number of secrets (issue 10, item 4 caps the users'
 * list at 1,000): the same answers as replacing each secret in turn, and overlapping secrets
 * leave no part of either in clear.
 */
import { expect, test } from "bun:test";
import { forgetSecret, redact, registerSecret, rememberSecret } from "../../src/lib/log.ts";
import { Rng } from "../support/prng.ts";

test("the same answers as replacing each secret in turn, on random lines and secrets", () => {
  const rng = new Rng(1234);
  const rand = () => rng.next();
  const alphabet = "abcde-_/ é\u00a0";
  const word = (n: number) => Array.from({ length: n }, () => alphabet[Math.floor(rand() * alphabet.length)]).join("");
  for (let round = 0; round < 200; round++) {
    // Distinct secrets that meet only at their start (a leading Z no other character is): one
    // may be a prefix of another, so the naive order is longest first (the longest match wins).
    const secrets = [...new Set(Array.from({ length: 1 + Math.floor(rand() * 6) }, () => "Z" + word(4 + Math.floor(rand() * 6))))];
    secrets.forEach((s) => rememberSecret(s));
    const parts = Array.from({ length: 8 }, () => (rand() < 0.4 ? secrets[Math.floor(rand() * secrets.length)]! : word(Math.floor(rand() * 8))));
    const line = parts.join("|");
    let naive = line;
    for (const s of [...secrets].sort((a, b) => b.length - a.length)) naive = naive.split(s).join("***");
    expect(redact(line)).toBe(naive);
    secrets.forEach((s) => forgetSecret(s));
  }
});

test("overlapping and adjacent secrets are masked as one span", () => {
  rememberSecret("abcdef-user");
  registerSecret("def-user-bot");
  expect(redact("x abcdef-user-bot y")).toBe("x *** y");
  expect(redact("abcdef-userdef-user-bot!")).toBe("***!");
  expect(redact("no secret here")).toBe("no secret here");
  forgetSecret("abcdef-user");
  expect(redact("x abcdef-user-bot y")).toBe("x abc*** y");
});
