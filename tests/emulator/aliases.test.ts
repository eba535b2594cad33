import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { AliasInput } from "../../src/emulator/index.ts";
import { sampleActions, sampleAliases } from "../../src/emulator/samples.ts";
import { assertNoViolations, startTestEmulator, type TestEmulator } from "../support/emulator.ts";

let st2: TestEmulator;
let admin: Record<string, string>;
let bob: Record<string, string>;

/** 150 generated aliases plus the samples, so paging crosses the 100 cap. */
const many: AliasInput[] = Array.from({ length: 150 }, (_, i) => ({
  name: `task_${String(i).padStart(3, "0")}`,
  pack: "bulk",
  action_ref: "bulk.task",
  description: `task number ${i}`,
  formats: [`task ${i} {{target}}`],
}));

beforeAll(async () => {
  st2 = await startTestEmulator({
    aliases: [...sampleAliases, ...many],
    actions: sampleActions,
    users: { st2admin: "Ch@ngeMe", bob: "builder" },
  });
  admin = { "X-Auth-Token": st2.createToken("st2admin").token };
  bob = { "X-Auth-Token": st2.createToken("bob").token };
});
afterAll(() => st2.stop());

const get = (path: string, headers = admin) => fetch(`${st2.apiUrl}${path}`, { headers });

describe("GET /actionalias", () => {
  test("pages with limit/offset and reports X-Total-Count and X-Limit", async () => {
    const res = await get("/actionalias?limit=50&offset=100", bob);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-total-count")).toBe(String(150 + sampleAliases.length));
    expect(res.headers.get("x-limit")).toBe("50");
    const page = await res.json();
    expect(page).toHaveLength(50);
    expect(page[0]).toMatchObject({ ref: expect.stringMatching(/^\w+\.\w+$/), uid: expect.stringMatching(/^action_alias:/), enabled: true });
    expect(page[0].id).toMatch(/^[0-9a-f]{24}$/);
  });

  test("defaults to 100 per page, sorted by pack then name", async () => {
    const res = await get("/actionalias", bob);
    const page = await res.json();
    expect(res.headers.get("x-limit")).toBe("100");
    expect(page).toHaveLength(100);
    const keys = page.map((a: { pack: string; name: string }) => `${a.pack}.${a.name}`);
    expect(keys).toEqual([...keys].sort());
  });

  test("a non-admin asking for more than 100 gets a 403; an admin gets them all", async () => {
    const denied = await get("/actionalias?limit=200", bob);
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({ faultstring: 'Limit "200" specified, maximum value is "100"' });

    const all = await get("/actionalias?limit=-1");
    expect(await all.json()).toHaveLength(150 + sampleAliases.length);
    expect(all.headers.get("x-limit")).toBeNull();
    expect((await get("/actionalias?limit=-1", bob)).status).toBe(403);
    expect((await (await get("/actionalias?limit=0")).json()).faultstring).toBe(
      'Limit, "0" specified, must be a positive number or -1 for full result set.',
    );
  });

  test("filters by pack and finds one alias by ref or id", async () => {
    const packs = await (await get("/actionalias?pack=deploy")).json();
    expect(packs.map((a: { ref: string }) => a.ref)).toEqual(["deploy.deploy_app"]);
    const byRef = await (await get("/actionalias/deploy.deploy_app")).json();
    expect((await (await get(`/actionalias/${byRef.id}`)).json()).ref).toBe("deploy.deploy_app");
    const missing = await get("/actionalias/deploy.nope");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ faultstring: 'Resource with a reference or id "deploy.nope" not found' });
  });
});

describe("GET /actionalias/help", () => {
  test("filters case-insensitively, pages, and counts all matches", async () => {
    const res = await get("/actionalias/help?filter=DEPLOY&limit=10");
    expect(await res.json()).toEqual({
      available: 1,
      helpstrings: [{ pack: "deploy", display: "deploy <app> [to <env>]", description: "Deploy an application (staging unless told otherwise)" }],
    });
    const paged = await (await get("/actionalias/help?pack=bulk&limit=5&offset=10")).json();
    expect(paged.available).toBe(150);
    expect(paged.helpstrings).toHaveLength(5);
  });
});

describe("POST /actionalias/match", () => {
  const match = (command: string) =>
    fetch(`${st2.apiUrl}/actionalias/match`, { method: "POST", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ command }) });

  test("one match answers the alias, display and representation", async () => {
    const res = await match("deploy web to prod");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.actionalias.ref).toBe("deploy.deploy_app");
    expect(body.display).toBe("deploy <app> [to <env>]");
    expect(body.representation).toBe("deploy {{app}}(?: to {{env=staging}})?");
  });

  test("no match and ambiguity are 400s with StackStorm's words", async () => {
    expect(await (await match("make coffee")).json()).toEqual({ faultstring: "Command 'make coffee' matched no patterns" });
    st2.addAlias({ name: "deploy_other", pack: "other", action_ref: "deploy.app", formats: ["deploy {{what}}"] });
    try {
      const res = await match("deploy web to prod");
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ faultstring: "Command 'deploy web to prod' matched more than 1 pattern" });
    } finally {
      st2.deleteAlias("other.deploy_other");
    }
  });

  test("an unknown key in the body is refused as StackStorm refuses it", async () => {
    const res = await fetch(`${st2.apiUrl}/actionalias/match`, {
      method: "POST",
      headers: { ...admin, "content-type": "application/json" },
      body: JSON.stringify({ command: "pack list", user: "me" }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ faultstring: "Additional properties are not allowed ('user' was unexpected)" });
    expect(st2.violations.map((v) => v.message)).toEqual(["body.user is not allowed (additionalProperties: false)"]);
    st2.violations.length = 0;
  });

  test("every other request here was valid", () => {
    assertNoViolations(st2);
  });
});
