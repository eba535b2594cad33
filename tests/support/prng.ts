/**
 * A tiny seeded PRNG (mulberry32) and generators for repeatable fuzzing: the same seed gives the
 * same inputs on every run, so a failure names its seed and case and can be replayed.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A string mixing ASCII, spaces, newlines, accents, CJK, emoji (surrogate pairs) and controls. */
  string(maxLen: number): string {
    const pieces = ["a", "b", "Z", "0", " ", " ", "\n", "\t", "é", "ß", "中", "文", "😀", "👍🏽", "\u0000", "\u200d", "\"", "\\", "{", "}", "`", "```", "#", "@"];
    let out = "";
    const len = this.int(maxLen + 1);
    while (out.length < len) out += this.pick(pieces);
    return out;
  }

  bytes(maxLen: number): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.int(maxLen + 1));
    for (let i = 0; i < out.length; i++) out[i] = this.int(256);
    return out;
  }

  /** A random JSON value, nested up to `depth`. */
  json(depth: number): unknown {
    const kind = depth <= 0 ? this.int(5) : this.int(7);
    switch (kind) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.pick([0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER, 42]);
      case 3:
      case 4:
        return this.string(20);
      case 5:
        return Array.from({ length: this.int(4) }, () => this.json(depth - 1));
      default: {
        const obj: Record<string, unknown> = {};
        const keys = ["message", "channel", "user", "whisper", "extra", "context", "payload", "__proto__", "constructor", this.string(6)];
        for (let i = this.int(5); i > 0; i--) obj[this.pick(keys)] = this.json(depth - 1);
        return obj;
      }
    }
  }
}
