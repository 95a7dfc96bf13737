// SDK clients for gonghui-loadtest's chaos scenario: the TypeScript SDK, as an app or
// the console uses it, subscribed across the nodes while they are killed, paused and cut
// off from Postgres. The harness gives the clients as one JSON line on stdin, then
// commands (`drop N`: cut client N's TCP socket; `stall N MS`: stop reading it for MS);
// every snapshot, reset and event a subscriber is handed goes to stdout as a JSON line,
// and the harness's checker holds them to the database like its own clients' frames.
import { createInterface } from "node:readline";
import WebSocket from "ws";
import { Realtime, webSocketTransport, type ClientKind, type WebSocketConstructor } from "../src/index.js";

/** One client the harness asks for. */
interface Spec {
  token: string;
  client: ClientKind;
  topics: string[];
  /** The nodes' socket URLs, the one to try first first. */
  urls: string[];
  codec: "json" | "msgpack";
}

/** What a line of stdout tells the harness, for client `c`. */
type Line =
  | { c: number; t: "hello" }
  | { c: number; t: "closed"; code: number }
  | { c: number; t: "snapshot" | "reset"; topic: string; seq: number; snapshot: unknown }
  | { c: number; t: "event"; topic: string; seq: number; kind: string; data: unknown }
  | { c: number; t: "ended"; topic: string; error: string };

/** The TCP socket under a `ws` socket, which a drop destroys and a stall pauses. */
type Raw = { _socket?: { destroy(): void; pause(): void; resume(): void } };

function say(line: Line): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Starts client `c`; answers a way to reach its current socket. */
function start(c: number, spec: Spec): () => Raw | undefined {
  let current: Raw | undefined;
  class Tracked extends WebSocket {
    constructor(url: string, protocols: string[]) {
      super(url, protocols);
      current = this as unknown as Raw;
    }
  }
  const realtime = new Realtime({
    urls: spec.urls,
    token: spec.token,
    client: spec.client,
    codec: spec.codec,
    transport: webSocketTransport(Tracked as unknown as WebSocketConstructor),
    // A paused node is given up after 3 s without a pong, as the harness's clients do after 4 s of silence.
    heartbeat: { intervalMs: 1_000, timeoutMs: 3_000 },
    backoff: { baseMs: 50, maxMs: 1_000 },
    requestTimeoutMs: 4_000,
  });
  realtime.on("hello", () => say({ c, t: "hello" }));
  realtime.on("closed", (code) => say({ c, t: "closed", code }));
  for (const topic of spec.topics) {
    realtime.subscribe(topic, {
      onSnapshot: (snapshot, seq) => say({ c, t: "snapshot", topic, seq, snapshot }),
      onReset: (snapshot, seq) => say({ c, t: "reset", topic, seq, snapshot }),
      onEvent: (event) => say({ c, t: "event", topic, seq: event.seq, kind: event.kind, data: event.data }),
      onEnded: (error) => say({ c, t: "ended", topic, error: `${error.code}: ${error.message}` }),
    });
  }
  realtime.connect();
  return () => current;
}

const input = createInterface({ input: process.stdin });
let sockets: (() => Raw | undefined)[] | undefined;
input.on("line", (line) => {
  if (!sockets) {
    const specs = JSON.parse(line) as Spec[];
    sockets = specs.map((spec, c) => start(c, spec));
    return;
  }
  const [command, n, ms] = line.trim().split(/\s+/);
  const socket = sockets[Number(n)]?.()?._socket;
  if (command === "drop") socket?.destroy();
  else if (command === "stall" && socket) {
    socket.pause();
    setTimeout(() => socket.resume(), Number(ms));
  } else if (command !== "drop" && command !== "stall") throw new Error(`unknown command ${line}`);
});
// The harness closes stdin when it is done with the clients.
input.on("close", () => process.exit(0));
