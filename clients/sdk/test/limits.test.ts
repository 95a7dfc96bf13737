import { afterAll, beforeAll, expect, it } from "vitest";
import {
  Stream,
  bootCluster,
  announce,
  head,
  logged,
  realtime,
  rest,
  sockets,
  until,
  type Cluster,
} from "./helpers.js";
import { memoryStorage, type SeqStorage } from "../src/index.js";

let cluster: Cluster;
let root: number;
let admin: string;

// A short replay window, a small queue per socket and kernel buffer: resets and 4008 come quickly.
const env = { GONGHUI_MAX_REPLAY: "5", GONGHUI_SESSION_QUEUE: "8", GONGHUI_SOCKET_SEND_BUFFER: "16384" };
beforeAll(async () => ({ cluster, root, admin } = await bootCluster({ nodes: 1, env })));
afterAll(() => cluster?.stop());

/** A page that took the topic's snapshot and went away: its seq is left in `storage`. */
async function visitAndLeave(topic: string, storage: SeqStorage): Promise<number | undefined> {
  const first = realtime(cluster.ws, admin, { client: "console", storage });
  const stream = new Stream();
  first.subscribe(topic, stream.handlers());
  first.connect();
  await until(() => stream.snapshots === 1, "the snapshot");
  first.close();
  return stream.last;
}

/** The next page, resuming from `storage`, once it has been reset. */
async function comeBackReset(topic: string, storage: SeqStorage) {
  const client = realtime(cluster.ws, admin, { client: "console", storage });
  const stream = new Stream();
  client.subscribe(topic, stream.handlers());
  client.connect();
  await until(() => stream.resets === 1, "a reset");
  return { client, stream };
}

it("hands a fresh snapshot to onReset when the events since its seq are too many to replay", async () => {
  const topic = `union:${root}`;
  const storage = memoryStorage();
  await visitAndLeave(topic, storage);
  await announce(cluster, admin, root, 12);

  const { client: second, stream: again } = await comeBackReset(topic, storage);
  expect(again.last).toBe(head(cluster, topic));
  expect(again.snapshots).toBe(0);
  await announce(cluster, admin, root, 2);
  await until(() => again.last === head(cluster, topic), "events after the reset");
  second.close();
});

it("hands a fresh snapshot to onReset when the events since its seq were pruned", async () => {
  const topic = `union:${root}`;
  const storage = memoryStorage();
  const last = await visitAndLeave(topic, storage);
  await announce(cluster, admin, root, 2);
  await logged(cluster);
  // What retention does after GONGHUI_EVENT_RETENTION_SECS: the oldest events go.
  cluster.sqlValue(`DELETE FROM events WHERE topic = '${topic}' AND seq <= ${(last ?? 0) + 1}`);

  const { client: second, stream: again } = await comeBackReset(topic, storage);
  expect(again.last).toBe(head(cluster, topic));
  second.close();
});

it("stops on logout: unauthenticated, and no reconnect loop", async () => {
  const { token } = await cluster.login("13600000009", "app");
  const client = realtime(cluster.ws, token);
  const unauthenticated: string[] = [];
  client.on("unauthenticated", () => unauthenticated.push("once"));
  client.connect();
  await until(() => client.connectionState === "connected", "connected");
  const opened = sockets.length;
  await rest(cluster.http, token).post("/api/v1/auth/logout");
  await until(() => client.connectionState === "unauthenticated", "unauthenticated");
  await new Promise((r) => setTimeout(r, 1_000));
  expect(unauthenticated).toEqual(["once"]);
  expect(sockets.length).toBe(opened);
});

it("resumes by itself after the server closes it with 4008 for reading too slowly", async () => {
  const topic = `union:${root}`;
  const client = realtime(cluster.ws, admin, { client: "console", heartbeat: { intervalMs: 60_000 } });
  const stream = new Stream();
  const codes: number[] = [];
  client.on("closed", (code) => codes.push(code));
  client.subscribe(topic, stream.handlers());
  const before = sockets.length;
  client.connect();
  await until(() => stream.snapshots === 1, "the snapshot");
  const raw = (sockets[before] as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  raw.pause();
  const big = "工".repeat(5_000);
  const api = rest(cluster.http, admin);
  for (let n = 0; n < 40; n++) {
    await api.post("/api/v1/unions/{union_id}/announcements", { params: { union_id: root }, body: { title: "大通知", body: big } });
  }
  raw.resume();
  await until(() => stream.last === head(cluster, topic), "the head");
  expect(codes).toContain(4008);
  client.close();
});
