// A write whose request was cut is never reported as failed when it succeeded: the SDK
// asks again with the same Idempotency-Key — on the next node, while the first node is
// still writing (409 in_progress), or after a node that got half the body answered 408 —
// until it learns the first call's fate. Real nodes; the "cut" is a fetch that gives up
// at each point a network can fail, and a row lock held in Postgres keeps the first
// write running as long as the test likes.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { connect } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ADMIN_PASSWORD, ADMIN_PHONE, idNumber, rest, startCluster, until, type Cluster } from "./helpers.js";
import { GonghuiError, RestClient, type FetchLike } from "../src/index.js";

let cluster: Cluster;
let root: number;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 2, env: { GONGHUI_BODY_TIMEOUT_SECS: "1" } });
  root = cluster.bootstrap(ADMIN_PHONE, ADMIN_PASSWORD);
});

afterAll(async () => {
  await cluster?.stop();
});

/** A verified member ready to apply to the root union; answers their token and id. */
async function member(n: number): Promise<{ token: string; userId: number }> {
  const { token, user_id } = await cluster.login(`136000003${String(n).padStart(2, "0")}`);
  await rest(cluster.http, token).post("/api/v1/me/verification", { body: { name: "王五", id_number: idNumber(300 + n) } });
  return { token, userId: user_id };
}

/** Holds the root union's row locked in a transaction of its own until `release`: an application's write to it waits. */
function lockUnion(): { held: Promise<void>; release(): void } {
  const psql: ChildProcessWithoutNullStreams = spawn("psql", [cluster.sqlUrl(), "-qAt"]);
  const held = new Promise<void>((resolve) => {
    psql.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("locked")) resolve();
    });
  });
  psql.stdin.write(`BEGIN; SELECT 'locked' FROM unions WHERE id = ${root} FOR UPDATE;\n`);
  return {
    held,
    release() {
      psql.stdin.end("COMMIT;\n");
    },
  };
}

/** Statuses and codes of every answer the SDK read, and the keys it sent. */
function recorder(): { seen: string[]; keys: string[]; wrap(inner: FetchLike): FetchLike } {
  const seen: string[] = [];
  const keys: string[] = [];
  return {
    seen,
    keys,
    wrap: (inner) => async (url, init) => {
      keys.push(init.headers["idempotency-key"]);
      const answer = await inner(url, init);
      const text = await answer.text();
      seen.push(`${answer.status} ${(JSON.parse(text || "{}") as { error?: { code?: string } }).error?.code ?? ""}`.trim());
      return { status: answer.status, headers: answer.headers, text: async () => text };
    },
  };
}

const applications = (userId: number) => Number(cluster.sqlValue(`SELECT count(*) FROM applications WHERE user_id = ${userId}`));

it.each([
  ["before the request is sent", "before"],
  ["after it is sent, before the answer", "after"],
] as const)("a write cut %s is done once and answered with its result", async (_, point) => {
  const { token, userId } = await member(point === "before" ? 1 : 2);
  const lock = lockUnion();
  await lock.held;
  let tries = 0;
  // The first try goes to node 0 and is cut; the rest go where the SDK sends them.
  const cutting: FetchLike = async (url, init) => {
    if (tries++ > 0) return fetch(url, init);
    if (point === "after") {
      // Sent in full; node 0 now waits on the lock, and the client gives up on it.
      void fetch(url, init).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
    }
    throw new TypeError("fetch failed");
  };
  const record = recorder();
  const api = new RestClient({ urls: cluster.http, token, fetch: record.wrap(cutting) });
  const applying = api.post("/api/v1/unions/{union_id}/applications", { params: { union_id: root }, body: { kind: "join" } });
  if (point === "after") await until(() => record.seen.includes("409 in_progress"), "node 1 saying node 0 is still writing");
  lock.release();
  const application = await applying;
  expect(application.status).toBe("pending");
  expect(new Set(record.keys).size).toBe(1);
  expect(applications(userId)).toBe(1);
});

it("a write whose body a paused node got half of (408) is asked again and done once", async () => {
  const { token, userId } = await member(3);
  let tries = 0;
  // The first try reaches node 0 with half its body; the node answers 408 when the rest never comes.
  const halfBody: FetchLike = async (url, init) => {
    if (tries++ > 0) return fetch(url, init);
    return halfway(url, init);
  };
  const record = recorder();
  const api = new RestClient({ urls: cluster.http, token, fetch: record.wrap(halfBody) });
  const application = await api.post("/api/v1/unions/{union_id}/applications", { params: { union_id: root }, body: { kind: "join" } });
  expect(record.seen[0]).toBe("408 timeout");
  expect(application.user_id).toBe(userId);
  expect(applications(userId)).toBe(1);
});

it("a write whose first try outlasts the wait fails as outcome_unknown, not as a conflict", async () => {
  const { token, userId } = await member(4);
  const lock = lockUnion();
  await lock.held;
  let tries = 0;
  const cutting: FetchLike = async (url, init) => {
    if (tries++ > 0) return fetch(url, init);
    void fetch(url, init).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    throw new TypeError("fetch failed");
  };
  const api = new RestClient({ urls: cluster.http, token, fetch: cutting, settleWithinMs: 2_500 });
  const failure = await api
    .post("/api/v1/unions/{union_id}/applications", { params: { union_id: root }, body: { kind: "join" } })
    .catch((e: unknown) => e);
  lock.release();
  expect(failure).toBeInstanceOf(GonghuiError);
  expect(failure).toMatchObject({ status: 409, code: "outcome_unknown" });
  // The first try did go through once the lock was gone.
  await until(() => applications(userId) === 1, "the first try's application");
});

/** Sends a request with only half its body over a raw socket and answers what the node says. */
function halfway(url: string, init: { method: string; headers: Record<string, string>; body?: string }): ReturnType<FetchLike> {
  const { hostname, port, pathname, search } = new URL(url);
  const body = Buffer.from(init.body ?? "");
  const head = [
    `${init.method} ${pathname}${search} HTTP/1.1`,
    `host: ${hostname}:${port}`,
    ...Object.entries(init.headers).map(([k, v]) => `${k}: ${v}`),
    `content-length: ${body.length}`,
    "connection: close",
    "",
    "",
  ].join("\r\n");
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(Buffer.concat([Buffer.from(head), body.subarray(0, body.length >> 1)])));
    const chunks: Buffer[] = [];
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString();
      const [top, rest = ""] = text.split("\r\n\r\n");
      const lines = top.split("\r\n");
      const headers = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      resolve({ status: Number(lines[0].split(" ")[1]), headers: { get: (name) => headers.get(name.toLowerCase()) ?? null }, text: async () => rest });
    });
  });
}
