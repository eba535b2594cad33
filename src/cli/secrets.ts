/** `st2bot secrets rotate-key`: placeholder replaced by the secrets store's own rotation. */
import type { Config } from "../config/schema.ts";

export async function rotateKeyCli(_config: Config, io: { stderr: (s: string) => void }): Promise<number> {
  io.stderr("st2bot secrets rotate-key: not available in this build\n");
  return 1;
}
