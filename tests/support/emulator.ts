/**
 * The StackStorm emulator for tests, with StackStorm's OpenAPI spec watching every request:
 * a request the real server would reject is collected as a violation, and
 * `assertNoViolations` fails the test with the list.
 *
 *   const st2 = await startTestEmulator({ aliases });
 *   afterAll(() => st2.stop());
 *   ... drive st2bot against st2.apiUrl ...
 *   assertNoViolations(st2);
 */
import { startEmulator, type Emulator, type EmulatorOptions } from "../../src/emulator/index.ts";
import { openApiValidator, type Violation } from "./openapi.ts";

export interface TestEmulator extends Emulator {
  /** Every spec violation seen so far, in request order. */
  readonly violations: Violation[];
}

/** Starts an emulator (quiet, random port) whose requests are checked against the spec. */
export async function startTestEmulator(opts: EmulatorOptions = {}): Promise<TestEmulator> {
  const validator = openApiValidator();
  const violations: Violation[] = [];
  const emulator = await startEmulator({
    quiet: true,
    ...opts,
    onRequest(req) {
      violations.push(...validator.validate(req));
      opts.onRequest?.(req);
    },
  });
  return Object.assign(emulator, { violations });
}

/** Throws, listing them, if any request broke StackStorm's spec. */
export function assertNoViolations(emulator: TestEmulator): void {
  if (emulator.violations.length === 0) return;
  const lines = emulator.violations.map((v) => `  ${v.method} ${v.path} [${v.where}] ${v.message}`);
  throw new Error(`requests StackStorm would reject:\n${lines.join("\n")}`);
}
