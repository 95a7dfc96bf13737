// The mini-program and uni-app adapters, run for real: a fake `wx` (and `uni`) whose
// connectSocket is a real `ws` socket to a real node and whose request is a real HTTP
// call, holding the platform to its documented shapes (SocketTask callbacks, frames as
// string or ArrayBuffer, storage by key).
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PASSWORD, ADMIN_PHONE, Stream, announce, head, startCluster, until, type Cluster } from "./helpers.js";
import {
  Realtime,
  RestClient,
  watchMiniProgram,
  wxRequestFetch,
  wxSocketTransport,
  wxStorage,
  type SocketApi,
  type RequestApi,
} from "../src/index.js";

let cluster: Cluster;
let root: number;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 2 });
  root = cluster.bootstrap(ADMIN_PHONE, ADMIN_PASSWORD);
});

afterAll(async () => {
  await cluster?.stop();
});

/** A platform object as a mini-program (or uni-app) has it, backed by real sockets and HTTP. */
function platform() {
  const sockets: WebSocket[] = [];
  const stored = new Map<string, unknown>();
  const network: ((res: { isConnected: boolean }) => void)[] = [];
  const shows: (() => void)[] = [];
  const api: SocketApi & RequestApi & {
    getStorageSync(key: string): unknown;
    setStorageSync(key: string, value: string): void;
    removeStorageSync(key: string): void;
    onNetworkStatusChange(cb: (res: { isConnected: boolean }) => void): void;
    onAppShow(cb: () => void): void;
  } = {
    connectSocket({ url, protocols }) {
      const ws = new WebSocket(url, protocols);
      sockets.push(ws);
      const on = { open: [] as (() => void)[], message: [] as ((r: { data: string | ArrayBuffer }) => void)[], close: [] as ((r: { code: number; reason: string }) => void)[], error: [] as ((r: { errMsg: string }) => void)[] };
      ws.on("open", () => on.open.forEach((f) => f()));
      ws.on("message", (data: Buffer, binary: boolean) => {
        const payload = binary ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data.toString();
        on.message.forEach((f) => f({ data: payload as string | ArrayBuffer }));
      });
      ws.on("close", (code: number, reason: Buffer) => on.close.forEach((f) => f({ code, reason: reason.toString() })));
      // A failed connect fires only onError on some devices: so does this fake.
      ws.on("error", (e: Error) => on.error.forEach((f) => f({ errMsg: `connectSocket:fail ${e.message}` })));
      return {
        onOpen: (f) => void on.open.push(f),
        onMessage: (f) => void on.message.push(f),
        onClose: (f) => void on.close.push(f),
        onError: (f) => void on.error.push(f),
        send({ data, fail }) {
          if (typeof data !== "string" && !(data instanceof ArrayBuffer)) throw new TypeError("SocketTask.send takes a string or an ArrayBuffer");
          if (ws.readyState !== WebSocket.OPEN) return fail?.({ errMsg: "sendSocketMessage:fail" });
          ws.send(data);
        },
        close: ({ code, reason }) => ws.close(code, reason),
      };
    },
    request({ url, method, header, data, success, fail }) {
      fetch(url, { method, headers: header, body: data })
        .then(async (res) => success({ statusCode: res.status, header: Object.fromEntries(res.headers), data: await res.text() }))
        .catch((e: Error) => fail({ errMsg: `request:fail ${e.message}` }));
    },
    getStorageSync: (key) => stored.get(key) ?? "",
    setStorageSync: (key, value) => void stored.set(key, value),
    removeStorageSync: (key) => void stored.delete(key),
    onNetworkStatusChange: (cb) => void network.push(cb),
    onAppShow: (cb) => void shows.push(cb),
  };
  return { api, sockets, stored, network, shows };
}

describe.each([
  ["wx", "msgpack"],
  ["uni", "json"],
] as const)("the %s adapter", (name, codec) => {
  it(`logs in, follows a topic over ${codec}, survives a drop and reconnects when the app is shown`, async () => {
    const wx = platform();
    const api = new RestClient({ urls: cluster.http, fetch: wxRequestFetch(wx.api) });
    const login = await api.post("/api/v1/auth/login", {
      body: { phone: ADMIN_PHONE, password: ADMIN_PASSWORD, client: "miniprogram" },
    });
    const client = new Realtime({
      urls: cluster.ws,
      token: login.token,
      client: "miniprogram",
      codec,
      transport: wxSocketTransport(wx.api),
      storage: wxStorage(wx.api),
      backoff: { baseMs: 600_000, maxMs: 600_000 },
    });
    watchMiniProgram(wx.api, client);
    const topic = `union:${root}`;
    const stream = new Stream();
    client.subscribe(topic, stream.handlers());
    client.connect();
    await until(() => stream.snapshots === 1, "the snapshot");
    await announce(cluster, login.token, root, 5);
    await until(() => stream.last === head(cluster, topic), "the events");
    expect(wx.stored.get(`gonghui:seq:${topic}`)).toBe(String(stream.last));

    // The phone loses the connection; the backoff (up to 10 minutes) is cut short when the app is shown.
    wx.sockets[wx.sockets.length - 1].terminate();
    await until(() => client.connectionState === "reconnecting", "reconnecting");
    await announce(cluster, login.token, root, 5, 1);
    wx.shows.forEach((show) => show());
    await until(() => stream.last === head(cluster, topic), "the events missed", 3_000);
    expect(stream.snapshots).toBe(1);

    // WeChat says the network is gone: offline at once (no navigator here to ask), and
    // offline it stays while the backoff runs; when the network is back it reconnects.
    const states: string[] = [];
    client.on("state", (state) => states.push(state));
    wx.network.forEach((tell) => tell({ isConnected: false }));
    expect(client.connectionState).toBe("offline");
    await announce(cluster, login.token, root, 3, 1);
    wx.network.forEach((tell) => tell({ isConnected: true }));
    await until(() => stream.last === head(cluster, topic), "the events missed offline", 3_000);
    expect(client.connectionState).toBe("connected");
    expect(states).toEqual(["offline", "reconnecting", "connected"]);
    client.close();
    expect(name).toBeTruthy();
  });
});
