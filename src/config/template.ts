/**
 * The commented st2bot.toml without the chat backends' tables, which each backend declares
 * itself; `configTemplate` adds them. A test parses it, so it stays valid.
 */
export const CONFIG_TEMPLATE = `# st2bot configuration. Every key is optional; the values shown are the defaults.
# hubot-stackstorm's environment variables override this file: ST2_API_URL, ST2_AUTH_URL,
# ST2_STREAM_URL, ST2_API_KEY, ST2_AUTH_TOKEN, ST2_AUTH_USERNAME, ST2_AUTH_PASSWORD, ST2_ROUTE,
# HUBOT_2FA.

[bot]
prefix = "!"                 # Errbot's BOT_PREFIX: "!st2 <command>", "!st2help"
name = "st2bot"              # also answers to "@st2bot <command>" and "st2bot: <command>"
backend = "text"             # the chat service: one of the backend tables at the end
admins = []                  # globs on the sender's ACL attribute (see !whoami), e.g. ["@alice"]
hide_restricted_access = false    # deny silently instead of explaining
hide_restricted_commands = false  # leave commands a user may not run out of their help
# data_dir = "./st2bot-data" # SQLite database: outbox, login sessions, encrypted secrets; relative to
                             # this file; default: systemd's $STATE_DIRECTORY, else ./st2bot-data here
log_level = "info"           # debug | info | warn | error
log_format = "text"          # text | json (one JSON object per line, for journald or Loki)

[stackstorm]
api_url = "https://localhost/api/v1"
auth_url = "https://localhost/auth/v1"
stream_url = "https://localhost/stream/v1"
# webui_url = "https://localhost"   # for "details available at" links when StackStorm sends none
verify_cert = true
# ca_cert = "/etc/ssl/certs/st2-ca.pem"      # trust this CA for StackStorm only
# client_cert = "/etc/st2bot/client.pem"     # mutual TLS towards StackStorm
# client_key = "/etc/st2bot/client.key"
route_key = "errbot"         # notification route: keeps existing notify_errbot rules working
# inquiry_channel = "#ops"   # where inquiries started outside chat are announced
# twofactor_action = "duo.auth_push"  # aliases with extra.security.twofactor wait for this action's confirmation
plugin_prefix = "st2"        # "!st2 <command>"; "" runs aliases straight after the bot prefix
# packs = ["ops", "deploy"]  # serve only these packs' aliases (one bot per team); default: all
timer_update = 900           # seconds between alias refreshes and credential re-checks
live_output = false          # follow every alias execution's output in chat (one alias: extra.st2bot.live_output)
live_output_interval = 3     # seconds between edits of the live output message
session_ttl = 3600           # seconds a client-side login link stays valid
user_token_ttl = 86400       # ttl asked for tokens made from a username/password
secrets_store = "encrypted"  # encrypted (SQLite, AES-256-GCM) | cleartext (memory only)

# Inquiries are announced where their workflow was started, whatever their route. To also
# announce inquiries whose core.ask sets a route in a channel of their own:
# [stackstorm.inquiry_routes]
# developers = "#dev"

# The bot's own StackStorm credentials; the first given wins: API key, token, username/password.
[stackstorm.api_auth]
# apikey = "..."               # or apikey_file = "/etc/st2bot/apikey"
# token = "..."                # or token_file = "/etc/st2bot/token"

# [stackstorm.api_auth.user]
# name = "st2bot"
# password_file = "/etc/st2bot/password"

# Who StackStorm sees: everyone as the bot (standalone), or each chat user as themselves
# (clientside: users link their StackStorm identity through the login page at this URL).
[stackstorm.rbac_auth.standalone]
# [stackstorm.rbac_auth.clientside]
# url = "https://st2bot.example.com/"

[web]
host = "127.0.0.1"           # the login page and the webhook; put a TLS reverse proxy in front
port = 8888
# tls_cert = "/etc/st2bot/tls.crt"   # or let st2bot serve TLS itself
# tls_key = "/etc/st2bot/tls.key"
# tls_client_ca = "/etc/st2bot/clients-ca.pem"  # require client certificates
# trusted_proxies = ["127.0.0.1", "::1"]  # proxies whose X-Forwarded-For names the client (none by default)

[webhook]
# POST /chatops/message needs one of these; without either the webhook is off.
# token_file = "/etc/st2bot/webhook-token"       # Authorization: Bearer <token>; 32 bytes or more (openssl rand -hex 32)
# hmac_secret_file = "/etc/st2bot/webhook-hmac"  # X-St2bot-Timestamp + X-St2bot-Signature
max_skew_seconds = 300
max_body_bytes = 65536
max_pending = 10000    # messages waiting for chat before posts get 503 + Retry-After

[secrets]
key_env = "ST2BOT_SECRETS_KEY"   # base64 of 32 random bytes: openssl rand -base64 32
# key_file = "/etc/st2bot/secrets.key"   # must not be readable by group or others

[outbox]
dead_after_seconds = 3600    # a message failing this long is kept as dead (see !status)
max_retry_delay_seconds = 60

# Cluster mode: two or more instances with this same config share Redis; one speaks (README).
# [cluster]
# redis_url = "redis://127.0.0.1:6379/0"      # rediss:// for TLS
# sentinels = ["10.0.0.1:26379", "10.0.0.2:26379"]   # instead of redis_url's host
# sentinel_name = "mymaster"
# password_file = "/etc/st2bot/redis-password"
# lease_seconds = 3          # a dead leader is replaced after about this long
# command_timeout_seconds = 2   # a hung Redis: webhooks answer 503 after this long

# Errbot's ACCESS_CONTROLS: the first matching key wins, in file order.
# [access_controls."st2 apu status*"]
# allowrooms = ["#channel"]
# allowusers = ["@admin1", "@user1"]
`;

/** The whole template `st2bot init` writes: CONFIG_TEMPLATE, then each backend's own table. */
export function configTemplate(backends: ReadonlyArray<{ name: string; text: string }>): string {
  const names = backends.map((b) => b.name).join(" | ");
  const head = CONFIG_TEMPLATE.replace("one of the backend tables at the end", names);
  return [head, ...backends.map((b) => b.text)].join("\n");
}
