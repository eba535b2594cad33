/**
 * The lookup cache of the backends whose directories ask the service one name or id at a time
 * (Mattermost, Rocket.Chat): a name or a person renamed on the service is seen again once its
 * entry expired, without reloading everything.
 */

/** A map whose entries are forgotten `ttlMs` after they were set. */
export class TtlCache<T> {
  private readonly entries = new Map<string, { value: T; expires: number }>();
  constructor(private readonly ttlMs: number) {}

  /** The value set for `key`, unless it expired (then it is dropped). */
  get(key: string): T | undefined {
    const e = this.entries.get(key);
    if (e && e.expires >= Date.now()) return e.value;
    this.entries.delete(key);
    return undefined;
  }

  /** Keeps `value` under `key` for `ttlMs` from now; returns it. */
  set(key: string, value: T): T {
    this.entries.set(key, { value, expires: Date.now() + this.ttlMs });
    return value;
  }
}
