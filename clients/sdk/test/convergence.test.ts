// Convergence: 50 clients on two nodes while sockets are cut at random for 30 s and two
// writers append on both nodes. Every client's stream must stay gapless and once-only
// (checked on every delivery) and end at the database's head.
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  Stream,
  bootCluster,
  cut,
  head,
  importMembers,
  realtime,
  rest,
  sockets,
  until,
  type Cluster,
} from "./helpers.js";
import type { Realtime } from "../src/index.js";

const CLIENTS = 50;
const CHAOS_MS = Number(process.env.SDK_CHAOS_MS ?? 30_000);

let cluster: Cluster;
let root: number;
let admin: string;

beforeAll(async () => ({ cluster, root, admin } = await bootCluster({ nodes: 2 })));
afterAll(() => cluster?.stop());

it(`keeps ${CLIENTS} clients gapless through ${CHAOS_MS / 1000} s of cut sockets`, async () => {
  const phones = await importMembers(cluster, admin, root, CLIENTS, 500);
  const topic = `union:${root}`;
  const first = sockets.length;
  const clients: { client: Realtime; stream: Stream }[] = [];
  for (const [i, phone] of phones.entries()) {
    const { token } = await cluster.login(phone, "app", i % 2);
    const urls = i % 2 ? [cluster.ws[1], cluster.ws[0]] : cluster.ws;
    const client = realtime(urls, token, { codec: i % 3 ? "msgpack" : "json" });
    const stream = new Stream();
    client.subscribe(topic, stream.handlers());
    client.connect();
    clients.push({ client, stream });
  }
  await until(() => clients.every((c) => c.stream.snapshots === 1), "every snapshot");

  let writing = true;
  let written = 0;
  const writer = async (node: number) => {
    const api = rest([cluster.http[node]], admin);
    while (writing) {
      await api.post("/api/v1/unions/{union_id}/announcements", {
        params: { union_id: root },
        body: { title: "通知", body: `节点${node}` },
      });
      written++;
    }
  };
  const writers = [writer(0), writer(1)];
  let cuts = 0;
  const chaos = setInterval(() => {
    const open = sockets.slice(first).filter((s) => s.readyState === 1);
    if (open.length === 0) return;
    cut(open[Math.floor(Math.random() * open.length)]);
    cuts++;
  }, 50);
  await new Promise((r) => setTimeout(r, CHAOS_MS));
  clearInterval(chaos);
  writing = false;
  await Promise.all(writers);

  const last = head(cluster, topic);
  await until(() => clients.every((c) => c.stream.last === last), "every client at the head", 60_000);
  console.log(`${written} events, ${cuts} sockets cut, ${sockets.length - first} sockets opened, ${CLIENTS} clients at seq ${last}`);
  expect(cuts).toBeGreaterThan(CHAOS_MS / 100);
  expect(written).toBeGreaterThan(0);
  for (const { client } of clients) client.close();
});
