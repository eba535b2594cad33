/**
 * One prosody per test file: started with top-level await, stopped after the file's tests.
 * Where prosody is not installed the tests are skipped out loud, and under CI (whose setup
 * script installs it) they fail instead.
 */
import { afterAll, expect, test } from "bun:test";
import { type Prosody, type ProsodyOptions, ProsodyNotInstalledError, startProsody } from "../../scripts/prosody.ts";

export interface ProsodyFixture {
  /** The running server; undefined when prosody is not installed on this machine. */
  server: Prosody | undefined;
  /** Why there is no server. */
  skipReason: string | undefined;
}

/**
 * Starts prosody with `opts` for this test file (call at top level, with await) and registers
 * an `afterAll` that stops it. Any failure other than "not installed" is thrown.
 */
export async function prosodyForFile(opts: ProsodyOptions): Promise<ProsodyFixture> {
  let server: Prosody | undefined;
  try {
    server = await startProsody(opts);
  } catch (err) {
    if (!(err instanceof ProsodyNotInstalledError)) throw err;
    return { server: undefined, skipReason: err.message };
  }
  afterAll(() => server.stop(), 20_000);
  return { server, skipReason: undefined };
}

/**
 * Stands in for the `suite` (e.g. "XMPP tests") when there is no prosody: prints a banner and
 * registers one test, failing under CI and skipped elsewhere.
 */
export function reportProsodyMissing(skipReason: string, suite: string): void {
  console.error(`\n${"!".repeat(78)}\n!! ${suite.toUpperCase()} SKIPPED: ${skipReason}\n${"!".repeat(78)}\n`);
  if (process.env.CI) test(`prosody is installed for the ${suite}`, () => expect(skipReason).toBeUndefined());
  else test.skip(`${suite} (${skipReason})`, () => undefined);
}
