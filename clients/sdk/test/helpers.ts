// Real clients of real nodes: SDK instances over Node's `ws`, users made through the
// API, and a collector that checks every topic's stream is gapless and once-only.
import WebSocket from "ws";
import { expect } from "vitest";
import { startCluster } from "../scripts/cluster.mjs";
import {
  Realtime,
  RestClient,
  webSocketTransport,
  type AnyEvent,
  type RealtimeOptions,
  type WebSocketConstructor,
} from "../src/index.js";

export type Cluster = Awaited<ReturnType<typeof startCluster>>;
export { startCluster };

export const ADMIN_PHONE = "13800000000";
export const ADMIN_PASSWORD = "sdk-admin-pass";

/** Every raw socket the tests' clients opened, so a test can cut one (destroy its TCP socket). */
export const sockets: WebSocket[] = [];

class TrackedWebSocket extends WebSocket {
  constructor(url: string, protocols: string[]) {
    super(url, protocols);
    sockets.push(this);
  }
}

/** Destroys the TCP socket under `socket`: the client sees a drop (1006), as on a lost network. */
export function cut(socket: WebSocket): void {
  (socket as unknown as { _socket?: { destroy(): void } })._socket?.destroy();
}

/** A realtime client of `urls` with fast test timings. */
export function realtime(urls: string[], token: string, extra: Partial<RealtimeOptions> = {}): Realtime {
  return new Realtime({
    urls,
    token,
    client: "app",
    transport: webSocketTransport(TrackedWebSocket as unknown as WebSocketConstructor),
    backoff: { baseMs: 50, maxMs: 400 },
    heartbeat: { intervalMs: 1_000, timeoutMs: 2_000 },
    requestTimeoutMs: 5_000,
    ...extra,
  });
}

/** A REST client of `urls` as `token`. */
export function rest(urls: string[], token?: string): RestClient {
  return new RestClient({ urls, token });
}

/** The GB 11643 ID number of test person `n`. */
export function idNumber(n: number): string {
  const body = `44010119900307${String(n % 1000).padStart(3, "0")}`;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body].reduce((acc, d, i) => acc + Number(d) * weights[i], 0);
  return body + "10X98765432"[sum % 11];
}

/** Logs the root admin in by password on node `i`. */
export async function adminToken(cluster: Cluster, i = 0): Promise<string> {
  const answer = await rest([cluster.http[i]]).post("/api/v1/auth/login", {
    body: { phone: ADMIN_PHONE, password: ADMIN_PASSWORD, client: "console" },
  });
  return answer.token;
}

/** Makes `count` members of `union` by import; answers their phones. */
export async function importMembers(cluster: Cluster, admin: string, union: number, count: number, first = 0): Promise<string[]> {
  const phones = Array.from({ length: count }, (_, i) => `137${String(first + i).padStart(8, "0")}`);
  const rows = phones.map((phone, i) => `会员${first + i},${phone},${idNumber(first + i)}`);
  const answer = await fetch(`${cluster.http[0]}/api/v1/unions/${union}/members/import`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "text/csv" },
    body: ["姓名,手机号,身份证号", ...rows].join("\n"),
  });
  const report = (await answer.json()) as { changed: number };
  expect(report.changed).toBe(count);
  return phones;
}

/** Starts a cluster with the root union and its admin logged in. */
export async function bootCluster(options: Parameters<typeof startCluster>[0]): Promise<{ cluster: Cluster; root: number; admin: string }> {
  const cluster = await startCluster(options);
  const root = cluster.bootstrap(ADMIN_PHONE, ADMIN_PASSWORD);
  return { cluster, root, admin: await adminToken(cluster) };
}

/** Writes `count` announcements to `union` through node `i`. */
export async function announce(cluster: Cluster, admin: string, union: number, count: number, i = 0): Promise<void> {
  const api = rest([cluster.http[i]], admin);
  for (let n = 0; n < count; n++) {
    await api.post("/api/v1/unions/{union_id}/announcements", {
      params: { union_id: union },
      body: { title: `通知${n}`, body: `第${n}条` },
    });
  }
}

/** Collects a topic's deliveries and checks them as they come: seqs one apart, never twice. */
export class Stream {
  readonly events: AnyEvent[] = [];
  snapshots = 0;
  resets = 0;
  last: number | undefined;

  snapshot = (_: unknown, seq: number) => {
    this.snapshots++;
    this.last = seq;
  };

  reset = (_: unknown, seq: number) => {
    this.resets++;
    this.last = seq;
  };

  event = (event: AnyEvent) => {
    if (this.last !== undefined) expect(event.seq, `${event.topic} after ${this.last}`).toBe(this.last + 1);
    this.last = event.seq;
    this.events.push(event);
  };

  handlers() {
    return { onSnapshot: this.snapshot, onReset: this.reset, onEvent: this.event as never };
  }
}

/** Waits until `check` holds, polling. */
export async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until the nodes' log writers have moved every committed event into the log. */
export async function logged(cluster: Cluster): Promise<void> {
  await until(() => Number(cluster.sqlValue("SELECT count(*) FROM outbox")) === 0, "the outbox to empty");
}

/** The head seq of a topic in the database. */
export function head(cluster: Cluster, topic: string): number {
  return Number(cluster.sqlValue(`SELECT head FROM topics WHERE topic = '${topic}'`));
}
