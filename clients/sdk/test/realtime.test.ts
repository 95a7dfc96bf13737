import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Stream,
  bootCluster,
  announce,
  cut,
  head,
  idNumber,
  realtime,
  rest,
  sockets,
  until,
  type Cluster,
} from "./helpers.js";
import { memoryStorage, watchBrowser, type EventOn } from "../src/index.js";

let cluster: Cluster;
let root: number;
let admin: string;

beforeAll(async () => ({ cluster, root, admin } = await bootCluster({ nodes: 2 })));
afterAll(() => cluster?.stop());

describe.each(["json", "msgpack"] as const)("over %s", (codec) => {
  it("carries a join from a member on one node to an admin on the other and back, typed", async () => {
    const phone = codec === "json" ? "13600000001" : "13600000002";
    const member = await cluster.login(phone, "app", 0);
    const api = rest([cluster.http[0]], member.token);
    await api.post("/api/v1/me/verification", { body: { name: "张三", id_number: idNumber(codec === "json" ? 901 : 902) } });

    const console = realtime([cluster.ws[1]], admin, { codec, client: "console" });
    const queue: EventOn<"union_admin">[] = [];
    let pending = -1;
    console.subscribe(`union:${root}:admin`, {
      onSnapshot: (snapshot) => (pending = snapshot.pending.length),
      onEvent: (event) => queue.push(event),
    });
    const app = realtime([cluster.ws[0]], member.token, { codec });
    const mine: EventOn<"member">[] = [];
    app.subscribe(`member:${member.user_id}`, { onEvent: (event) => mine.push(event) });
    console.connect();
    app.connect();
    await until(() => pending >= 0 && app.connectionState === "connected", "both connected");

    const application = await api.post("/api/v1/unions/{union_id}/applications", {
      params: { union_id: root },
      body: { kind: "join" },
    });
    // Typed: narrowing on `kind` gives the event's own data.
    const isOurs = (e: EventOn<"union_admin">) => e.kind === "application.created" && e.data.application.id === application.id;
    await until(() => queue.some(isOurs), "the admin's queue shows it");

    await rest([cluster.http[1]], admin).post("/api/v1/applications/{id}/approve", { params: { id: application.id } });
    const joined = (e: EventOn<"member">) => e.kind === "membership.created" && e.data.membership.union_id === root;
    await until(() => mine.some(joined), "the member sees the membership");
    console.close();
    app.close();
  });
});

it("resumes after its TCP socket is destroyed mid-stream: nothing missed, nothing twice", async () => {
  const topic = `union:${root}`;
  const client = realtime([cluster.ws[0]], admin, { client: "console" });
  const stream = new Stream();
  client.subscribe(topic, stream.handlers());
  const before = sockets.length;
  client.connect();
  await until(() => stream.snapshots === 1, "the snapshot");
  const writing = announce(cluster, admin, root, 40, 1);
  await until(() => stream.events.length >= 5, "some events");
  for (const socket of sockets.slice(before)) cut(socket);
  await writing;
  await until(() => stream.last === head(cluster, topic), "the head");
  expect(sockets.length - before).toBeGreaterThan(1);
  expect(stream.events.length).toBeGreaterThanOrEqual(40);
  client.close();
});

it("moves to the other node when its node is killed, and misses nothing", async () => {
  const topic = `union:${root}`;
  const client = realtime([cluster.ws[1], cluster.ws[0]], admin, { client: "console" });
  const stream = new Stream();
  const states: string[] = [];
  client.on("state", (s) => states.push(s));
  client.subscribe(topic, stream.handlers());
  client.connect();
  await until(() => stream.snapshots === 1, "the snapshot");
  const writing = announce(cluster, admin, root, 30, 0);
  await until(() => stream.events.length >= 3, "some events");
  cluster.kill(1);
  await writing;
  await until(() => stream.last === head(cluster, topic), "the head, through node 0");
  expect(states).toContain("reconnecting");
  client.close();
  await cluster.restart(1);
});

it("resumes a new client instance from the stored seqs (a page reload)", async () => {
  const topic = `union:${root}`;
  const storage = memoryStorage();
  const first = realtime([cluster.ws[0]], admin, { client: "console", storage, codec: "msgpack" });
  const before = new Stream();
  first.subscribe(topic, before.handlers());
  first.connect();
  await until(() => before.snapshots === 1, "the first snapshot");
  await announce(cluster, admin, root, 3);
  await until(() => before.last === head(cluster, topic), "the first client's head");
  first.close();

  await announce(cluster, admin, root, 4);
  const second = realtime([cluster.ws[1]], admin, { client: "console", storage });
  const after = new Stream();
  after.last = before.last;
  second.subscribe(topic, after.handlers());
  second.connect();
  await until(() => after.last === head(cluster, topic), "the second client's head");
  expect(after.snapshots).toBe(0);
  expect(after.events.map((e) => e.seq)).toEqual([1, 2, 3, 4].map((n) => (before.last ?? 0) + n));
  second.close();
});

it("moves at once to the next node when its node restarts (1012), and misses nothing", async () => {
  const topic = `union:${root}`;
  // A backoff this long would show: 1012 must reconnect without one.
  const client = realtime([cluster.ws[1], cluster.ws[0]], admin, { client: "console", backoff: { baseMs: 60_000, maxMs: 60_000 } });
  const stream = new Stream();
  const codes: number[] = [];
  client.on("closed", (code) => codes.push(code));
  client.subscribe(topic, stream.handlers());
  client.connect();
  await until(() => stream.snapshots === 1, "the snapshot");
  const stopping = cluster.terminate(1);
  await announce(cluster, admin, root, 5, 0);
  await stopping;
  await until(() => stream.last === head(cluster, topic), "the head, through node 0", 10_000);
  expect(codes).toEqual([1012]);
  client.close();
  await cluster.restart(1);
});

it("goes offline at once when the browser says the network is gone, and resumes when it is back, missing nothing", async () => {
  const topic = `union:${root}`;
  const client = realtime([cluster.ws[0]], admin, { client: "console" });
  const browser = new EventTarget();
  const unwatch = watchBrowser(client, browser);
  const stream = new Stream();
  client.subscribe(topic, stream.handlers());
  client.connect();
  await until(() => stream.snapshots === 1, "the snapshot");
  browser.dispatchEvent(new Event("offline"));
  // At once, not after a missed ping.
  expect(client.connectionState).not.toBe("connected");
  await announce(cluster, admin, root, 3, 0);
  browser.dispatchEvent(new Event("online"));
  await until(() => client.connectionState === "connected", "connected again");
  await until(() => stream.last === head(cluster, topic), "the head");
  expect(stream.snapshots).toBe(1);
  unwatch();
  client.close();
});
