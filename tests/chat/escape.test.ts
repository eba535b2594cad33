/** The backends' escape hooks (issue 10, item 7): text the bot writes shows as typed and pings no one. */
import { describe, expect, test } from "bun:test";
import { escapeMentions } from "../../src/chat/mattermost/format.ts";
import { escapeText } from "../../src/chat/slack/format.ts";

describe("Slack", () => {
  test("every control sequence is shown, not acted on", () => {
    expect(escapeText("<!channel> <!here> <!everyone> <@U123> <#C1|ops> <!subteam^S1> <https://x|y>")).toBe(
      "&lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;@U123&gt; &lt;#C1|ops&gt; &lt;!subteam^S1&gt; &lt;https://x|y&gt;",
    );
    // Already-escaped input (what a user typed literally) stays literal.
    expect(escapeText("&lt;!channel&gt; & co")).toBe("&amp;lt;!channel&amp;gt; &amp; co");
    expect(escapeText("plain `code` *bold*")).toBe("plain `code` *bold*");
  });
});

describe("Mattermost", () => {
  const zw = "\u200b";
  test("an @ that could start a mention is broken, wherever it stands", () => {
    expect(escapeMentions("@channel @all @here @alice (@ops) x.@channel\n@everyone")).toBe(
      `@${zw}channel @${zw}all @${zw}here @${zw}alice (@${zw}ops) x.@${zw}channel\n@${zw}everyone`,
    );
    expect(escapeMentions("@@here")).toBe(`@${zw}@${zw}here`);
  });
  test("an @ inside a word (an e-mail address) is left alone", () => {
    expect(escapeMentions("mail alice@example.com or bob2@host")).toBe("mail alice@example.com or bob2@host");
  });
});
