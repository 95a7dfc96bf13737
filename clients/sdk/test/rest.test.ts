import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ADMIN_PASSWORD, ADMIN_PHONE, adminToken, idNumber, rest, startCluster, type Cluster } from "./helpers.js";
import { generate } from "../scripts/contract.mjs";
import { GonghuiError, RestClient, type FetchLike } from "../src/index.js";

let cluster: Cluster;
let root: number;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 1 });
  root = cluster.bootstrap(ADMIN_PHONE, ADMIN_PASSWORD);
});

afterAll(async () => {
  await cluster?.stop();
});

it("has the types of exactly what a fresh server serves", async () => {
  const files = await generate(cluster.http[0]);
  for (const [name, text] of Object.entries(files)) {
    const committed = readFileSync(new URL(`../src/generated/${name}`, import.meta.url), "utf8");
    expect(committed === text, `src/generated/${name} is stale: run npm run generate`).toBe(true);
  }
});

it("reports every error answer as one GonghuiError, and 401s to the hook", async () => {
  const { token } = await cluster.login("13600000101");
  const api = rest(cluster.http, token);
  const failure = await api
    .post("/api/v1/me/verification", { body: { name: "张三", id_number: "440101199003070011" } })
    .catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(GonghuiError);
  expect(failure).toMatchObject({ status: 422, code: "invalid" });
  expect((failure as GonghuiError).fields?.id_number).toMatch(/check/);

  const refused: GonghuiError[] = [];
  const stranger = new RestClient({ urls: cluster.http, token: "not-a-token", onUnauthorized: (e) => refused.push(e) });
  await expect(stranger.get("/api/v1/me")).rejects.toMatchObject({ status: 401, code: "unauthenticated" });
  expect(refused).toHaveLength(1);
});

it("retries a write whose answer was lost with the same key, so it happens once", async () => {
  const { token } = await cluster.login("13600000102");
  await rest(cluster.http, token).post("/api/v1/me/verification", { body: { name: "李四", id_number: idNumber(102) } });
  const keys: string[] = [];
  let lost = 0;
  // The first answer is lost on the way back: the server did the work, the client saw a network error.
  const flaky: FetchLike = async (url, init) => {
    keys.push(init.headers["idempotency-key"]);
    const answer = await fetch(url, init);
    if (lost++ === 0) throw new TypeError("fetch failed");
    return answer;
  };
  const api = new RestClient({ urls: cluster.http, token, fetch: flaky });
  const application = await api.post("/api/v1/unions/{union_id}/applications", {
    params: { union_id: root },
    body: { kind: "join" },
  });
  expect(keys).toHaveLength(2);
  expect(keys[0]).toBe(keys[1]);
  expect(Number(cluster.sqlValue(`SELECT count(*) FROM applications WHERE user_id = ${application.user_id}`))).toBe(1);
});

it("moves to the next node when one does not answer", async () => {
  const admin = await adminToken(cluster);
  const api = new RestClient({ urls: ["http://127.0.0.1:9", cluster.http[0]], token: admin });
  const me = await api.get("/api/v1/me");
  expect(me.user.phone).toBe(ADMIN_PHONE);
});
