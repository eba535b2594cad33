/**
 * Seeded fuzzing of the config loader: a valid st2bot.toml mutated by random deletions,
 * insertions, line swaps and value type swaps. parseConfig returns a Config or throws a
 * ConfigError naming the file (and line:column for TOML syntax errors), never anything else.
 */
import { expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import { BACKEND_SECTIONS } from "../../src/chat/registry.ts";
import { ConfigError } from "../../src/lib/errors.ts";
import { Rng } from "../support/prng.ts";

const VALID = `# st2bot configuration
[bot]
prefix = "!"
name = "st2bot"
backend = "slack"
admins = ["@alice", "@bob"]
data_dir = "./data"
log_level = "info"

[stackstorm]
api_url = "https://st2.example.com/api/v1"
auth_url = "https://st2.example.com/auth/v1"
stream_url = "https://st2.example.com/stream/v1"
verify_cert = true
route_key = "errbot"
timer_update = 900
session_ttl = 3600

[stackstorm.api_auth]
apikey = "abcdef0123456789"

[web]
host = "127.0.0.1"
port = 8888

[webhook]
token = "hook-token-0123456789abcdef0123456789"
max_skew_seconds = 300
max_body_bytes = 65536

[outbox]
dead_after_seconds = 3600
max_retry_delay_seconds = 60

[access_controls."st2*"]
allowusers = ["@alice"]
allowrooms = ["#ops"]

[slack]
bot_token = "xoxb-1"
app_token = "xapp-1"
`;

const NAME = "/etc/st2bot/st2bot.toml";
const SNIPPETS = ["=", "[", "]", '"', "'", "#", "\n", "{", "}", ",", ".", " ", "true", "1e9", "-1", "[[web]]", "x = 1", "\u0000", "😀", '"""', "0x1F"];
const VALUES = ['"text"', "42", "-7", "3.5", "true", "[]", '["a", 1]', "{}", '{ a = 1 }', "1979-05-27T07:32:00Z", '""'];

function mutate(rng: Rng, text: string): string {
  let out = text;
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const at = rng.int(out.length + 1);
    switch (rng.int(4)) {
      case 0:
        out = out.slice(0, at) + out.slice(at + 1 + rng.int(10));
        break;
      case 1:
        out = out.slice(0, at) + rng.pick(SNIPPETS) + out.slice(at);
        break;
      case 2: {
        const lines = out.split("\n");
        const i = rng.int(lines.length);
        const j = rng.int(lines.length);
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        out = lines.join("\n");
        break;
      }
      default: {
        // Swap one value for a value of another type.
        const lines = out.split("\n");
        const candidates = lines.map((l, i) => (/^\s*[\w."*]+\s*=/.test(l) ? i : -1)).filter((i) => i >= 0);
        const i = rng.pick(candidates);
        lines[i] = lines[i]!.replace(/=.*$/, `= ${rng.pick(VALUES)}`);
        out = lines.join("\n");
      }
    }
  }
  return out;
}

test("the unmutated config is valid", () => {
  expect(parseConfig(VALID, NAME, {}, BACKEND_SECTIONS).webhook.token).toBe("hook-token-0123456789abcdef0123456789");
});

test("3,000 seeded mutations: a Config or a ConfigError naming the file", () => {
  const rng = new Rng(3);
  const kinds = { valid: 0, syntax: 0, schema: 0 };
  for (let i = 0; i < 3000; i++) {
    const text = mutate(rng, VALID);
    try {
      parseConfig(text, NAME, {}, BACKEND_SECTIONS);
      kinds.valid++;
    } catch (err) {
      const where = `case ${i} (seed 3): ${JSON.stringify(text)}`;
      expect(err instanceof ConfigError, `${where}\n${String(err)}`).toBe(true);
      const message = (err as ConfigError).message;
      expect(message.startsWith(NAME), where).toBe(true);
      if (message.includes("invalid TOML")) {
        expect(message, where).toMatch(/^\/etc\/st2bot\/st2bot\.toml:\d+:\d+: invalid TOML: \S/);
        kinds.syntax++;
      } else {
        expect(message.length, where).toBeGreaterThan(NAME.length + 5);
        kinds.schema++;
      }
    }
  }
  // The mutations reach all three outcomes.
  expect(kinds.valid).toBeGreaterThan(0);
  expect(kinds.syntax).toBeGreaterThan(0);
  expect(kinds.schema).toBeGreaterThan(0);
}, 60_000);
