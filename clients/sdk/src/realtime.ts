import { fullJitter, type BackoffOptions } from "./backoff.js";
import { jsonCodec, msgpackCodec, type Codec, type Frame } from "./codec.js";
import { GonghuiError } from "./errors.js";
import { memoryStorage, type SeqStorage } from "./storage.js";
import { webSocketTransport, type Transport, type TransportFactory } from "./transport.js";
import type { ClientKind, EventOn, Snapshots, TopicKind, TopicKindOf } from "./types.js";

/** Where the connection stands. */
export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline" | "unauthenticated" | "closed";

/** How to reach the nodes and behave. */
export interface RealtimeOptions {
  /** The nodes' socket URLs (`wss://host/ws`); a failed connection moves to the next. */
  urls: string[];
  /** The token for hello, or a function that gives the current one. */
  token: string | (() => string | Promise<string>);
  client: ClientKind;
  /** `json` (default) or `msgpack` (loads `@msgpack/msgpack`). */
  codec?: "json" | "msgpack";
  /** Default: the global `WebSocket`. Node: `webSocketTransport(WebSocket)` with `ws`; mini-programs: `wxSocketTransport(wx)`. */
  transport?: TransportFactory;
  /** Where each topic's last seq is kept (default: memory). */
  storage?: SeqStorage;
  /** The prefix of the storage keys (default `gonghui:seq:`). */
  storageKey?: string;
  backoff?: BackoffOptions;
  /** A ping every `intervalMs` (25 s); no reply within `timeoutMs` (10 s) means the connection is dead. */
  heartbeat?: { intervalMs?: number; timeoutMs?: number };
  /** How long hello and subscribe wait for their reply (default 10 s). */
  requestTimeoutMs?: number;
}

/** What a subscriber is told. Events come exactly once, in seq order, across reconnects and failovers. */
export interface SubscriptionHandlers<T extends TopicKind> {
  /** The topic's state and the seq it reflects: on the first subscribe, and on a reset without `onReset`. */
  onSnapshot?(snapshot: Snapshots[T], seq: number): void;
  onEvent?(event: EventOn<T>): void;
  /** The events since the last seq are gone (pruned, or too many): replace your state with this one. */
  onReset?(snapshot: Snapshots[T], seq: number): void;
  /** The server refused the subscription or ended it (the user may no longer read the topic); it is dropped. */
  onEnded?(error: GonghuiError): void;
}

/** The handle `subscribe` answers. */
export interface Subscription {
  readonly topic: string;
  /** The last seq delivered, if any. */
  readonly seq: number | undefined;
  unsubscribe(): void;
}

/** The reply to hello. */
export interface Hello {
  user_id: number;
  session_id: string;
  topics: string[];
}

interface Listeners {
  state: (state: ConnectionState) => void;
  /** A connection ended, with the close code that decides what comes next. */
  closed: (code: number, reason: string) => void;
  hello: (hello: Hello) => void;
  unauthenticated: () => void;
  error: (error: GonghuiError) => void;
}

type AnyHandlers = SubscriptionHandlers<TopicKind>;

interface Sub {
  topic: string;
  handlers: AnyHandlers;
  seq: number | undefined;
  /** Events that came while the subscribe's reply was awaited. */
  buffer: Frame[] | undefined;
}

interface Pending {
  resolve(data: Frame): void;
  reject(error: GonghuiError): void;
  timer: ReturnType<typeof setTimeout>;
}

interface Connection {
  transport: Transport;
  codec: Codec;
  openedAt: number;
  ready: boolean;
}

/** A connection that lived this long resets the backoff. */
const STABLE_MS = 60_000;
/** The shortest wait after 4029 (too many frames or sockets). */
const TOO_MANY_FLOOR_MS = 2_000;

/**
 * One realtime connection to gonghui: hello, then every subscribed topic's snapshot and
 * its events exactly once and in order, resumed with `since` after every drop, on
 * whichever node answers. The policy for each close code is docs/PROTOCOL.md's.
 */
export class Realtime {
  private state: ConnectionState = "closed";
  private conn: Connection | undefined;
  private readonly subs = new Map<string, Sub>();
  private readonly pending = new Map<number, Pending>();
  private readonly listeners: { [K in keyof Listeners]: Set<Listeners[K]> } = {
    state: new Set(),
    closed: new Set(),
    hello: new Set(),
    unauthenticated: new Set(),
    error: new Set(),
  };
  private nextId = 1;
  /** The device said its network is gone (`networkLost`), and has not said it is back. */
  private networkDown = false;
  private urlIndex = 0;
  private attempt = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private codec: Promise<Codec> | undefined;
  private readonly storage: SeqStorage;
  private readonly transport: TransportFactory;

  constructor(private readonly options: RealtimeOptions) {
    if (options.urls.length === 0) throw new Error("give at least one node URL");
    this.storage = options.storage ?? memoryStorage();
    this.transport = options.transport ?? webSocketTransport();
  }

  /** The connection's state now. */
  get connectionState(): ConnectionState {
    return this.state;
  }

  /** Listens for `state` changes, `closed` connections, `hello` replies, `unauthenticated` (log in again) and `error` frames; answers a function that stops listening. */
  on<K extends keyof Listeners>(event: K, listener: Listeners[K]): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  /** Connects (again, after `close` or `unauthenticated`). */
  connect(): void {
    if (this.state !== "closed" && this.state !== "unauthenticated") return;
    this.attempt = 0;
    void this.open("connecting");
  }

  /** Reconnects at once if waiting to: call it when the device comes back online or the app comes to the front. */
  reconnectNow(): void {
    this.networkDown = false;
    if ((this.state !== "reconnecting" && this.state !== "offline") || this.retry === undefined) return;
    clearTimeout(this.retry);
    this.retry = undefined;
    void this.open("reconnecting");
  }

  /**
   * Takes the connection for dead now: the device says its network is gone, and a socket
   * without a network can linger a minute before it fails. The state is `offline` until
   * `reconnectNow` says the network is back; it comes back as after any drop (every topic
   * resumed from its seq), at once then.
   */
  networkLost(): void {
    this.networkDown = true;
    const conn = this.conn;
    if (conn) {
      conn.transport.close(4000, "network lost");
      this.closed(conn, 1006, "network lost");
    } else if (this.state === "reconnecting" && this.retry !== undefined) {
      // Waiting to reconnect (an attempt under way is left to finish or fail).
      this.setState("offline");
    }
  }

  /** Whether the device has no network: as `networkLost` said, or as the browser says. */
  private offline(): boolean {
    return this.networkDown || (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false;
  }

  /** Closes for good; subscriptions are kept for a later `connect`. */
  close(): void {
    this.setState("closed");
    clearTimeout(this.retry);
    this.retry = undefined;
    const conn = this.conn;
    this.conn = undefined;
    this.stopHeartbeat();
    conn?.transport.close(1000, "client closed");
    this.failPending("the client closed");
  }

  /**
   * Subscribes to `topic`: its snapshot (unless a stored seq resumes it), then each of
   * its events once, in order. Subscribing to a topic already held replaces its handlers.
   */
  subscribe<T extends string>(topic: T, handlers: SubscriptionHandlers<TopicKindOf<T>>): Subscription {
    const stored = this.storage.get(this.key(topic));
    const sub: Sub = {
      topic,
      handlers: handlers as unknown as AnyHandlers,
      seq: stored ? Number(stored) : undefined,
      buffer: undefined,
    };
    this.subs.set(topic, sub);
    if (this.conn?.ready) void this.sendSubscribe(sub);
    return {
      topic,
      get seq() {
        return sub.seq;
      },
      unsubscribe: () => this.unsubscribe(sub),
    };
  }

  private unsubscribe(sub: Sub): void {
    if (this.subs.get(sub.topic) !== sub) return;
    this.subs.delete(sub.topic);
    this.storage.remove(this.key(sub.topic));
    if (this.conn?.ready) this.request({ type: "unsubscribe", topic: sub.topic }).catch(() => undefined);
  }

  private key(topic: string): string {
    return `${this.options.storageKey ?? "gonghui:seq:"}${topic}`;
  }

  private emit<K extends keyof Listeners>(event: K, ...args: Parameters<Listeners[K]>): void {
    for (const listener of this.listeners[event]) (listener as (...a: Parameters<Listeners[K]>) => void)(...args);
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", state);
  }

  private async open(state: ConnectionState): Promise<void> {
    this.setState(state);
    this.codec ??= this.options.codec === "msgpack" ? msgpackCodec() : Promise.resolve(jsonCodec);
    const codec = await this.codec;
    if (this.state !== state) return;
    const url = this.options.urls[this.urlIndex % this.options.urls.length];
    let conn: Connection | undefined = undefined;
    const transport = this.transport(url, [codec.protocol], {
      open: () => conn && void this.hello(conn),
      message: (data) => conn && this.receive(conn, data),
      close: (code, reason) => conn && this.closed(conn, code, reason),
    });
    conn = { transport, codec, openedAt: Date.now(), ready: false };
    this.conn = conn;
  }

  private async hello(conn: Connection): Promise<void> {
    const token = typeof this.options.token === "function" ? await this.options.token() : this.options.token;
    let reply: Frame;
    try {
      reply = await this.request({ type: "hello", token, client: this.options.client }, conn);
    } catch (error) {
      // A refused hello is followed by the server's close (4001, 1011), which decides what
      // comes next; a hello never answered would leave the socket open and idle forever.
      if ((error as GonghuiError).code === "timeout") conn.transport.close(4000, "no reply to hello");
      return;
    }
    if (this.conn !== conn) return;
    conn.ready = true;
    // Connected: whatever the device said, the network is there.
    this.networkDown = false;
    this.setState("connected");
    this.emit("hello", reply as unknown as Hello);
    this.startHeartbeat(conn);
    for (const sub of this.subs.values()) void this.sendSubscribe(sub);
  }

  private async sendSubscribe(sub: Sub): Promise<void> {
    sub.buffer = [];
    let reply: Frame;
    try {
      reply = await this.request({ type: "subscribe", topic: sub.topic, since: sub.seq });
    } catch (error) {
      if (this.subs.get(sub.topic) !== sub) return;
      const failure = error as GonghuiError;
      // A drop is resumed on the next connection; a refusal ends the subscription.
      if (failure.status === 0 && failure.code === "disconnected") return;
      this.subs.delete(sub.topic);
      this.storage.remove(this.key(sub.topic));
      sub.handlers.onEnded?.(failure);
      return;
    }
    if (this.subs.get(sub.topic) !== sub) return;
    const seq = Number(reply.seq);
    const snapshot = reply.snapshot as Snapshots[TopicKind] | null;
    if (snapshot !== null && snapshot !== undefined) {
      sub.seq = seq;
      this.storage.set(this.key(sub.topic), String(seq));
      if (reply.reset && sub.handlers.onReset) sub.handlers.onReset(snapshot as never, seq);
      else sub.handlers.onSnapshot?.(snapshot as never, seq);
    }
    const buffered = sub.buffer ?? [];
    sub.buffer = undefined;
    for (const frame of buffered) this.deliver(sub, frame);
  }

  private deliver(sub: Sub, frame: Frame): void {
    if (sub.buffer) {
      sub.buffer.push(frame);
      return;
    }
    const seq = Number(frame.seq);
    if (sub.seq !== undefined && seq <= sub.seq) return;
    if (sub.seq !== undefined && seq !== sub.seq + 1) {
      // A gap would be a server bug; resubscribing from the last seq fills it.
      void this.sendSubscribe(sub);
      return;
    }
    sub.seq = seq;
    this.storage.set(this.key(sub.topic), String(seq));
    sub.handlers.onEvent?.(frame as never);
  }

  private receive(conn: Connection, data: string | ArrayBuffer | Uint8Array): void {
    if (this.conn !== conn) return;
    let frame: Frame;
    try {
      frame = conn.codec.decode(data);
    } catch {
      return;
    }
    switch (frame.type) {
      case "reply": {
        const waiting = this.pending.get(Number(frame.id));
        if (!waiting) return;
        this.pending.delete(Number(frame.id));
        clearTimeout(waiting.timer);
        if (frame.ok) waiting.resolve((frame.data ?? {}) as Frame);
        else {
          const error = (frame.error ?? {}) as { code?: string; message?: string };
          waiting.reject(new GonghuiError(0, error.code ?? "error", error.message ?? "refused"));
        }
        return;
      }
      case "event": {
        const sub = this.subs.get(String(frame.topic));
        if (sub) this.deliver(sub, frame);
        return;
      }
      case "unsubscribed": {
        const sub = this.subs.get(String(frame.topic));
        if (!sub) return;
        this.subs.delete(sub.topic);
        this.storage.remove(this.key(sub.topic));
        const error = (frame.error ?? {}) as { code?: string; message?: string };
        sub.handlers.onEnded?.(new GonghuiError(0, error.code ?? "forbidden", error.message ?? "ended"));
        return;
      }
      case "error": {
        const error = (frame.error ?? {}) as { code?: string; message?: string };
        this.emit("error", new GonghuiError(0, error.code ?? "error", error.message ?? ""));
        return;
      }
    }
  }

  private request(frame: Frame, conn = this.conn): Promise<Frame> {
    return new Promise((resolve, reject) => {
      if (!conn) {
        reject(new GonghuiError(0, "disconnected", "not connected"));
        return;
      }
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new GonghuiError(0, "timeout", `no reply to ${String(frame.type)}`));
      }, this.options.requestTimeoutMs ?? 10_000);
      this.pending.set(id, { resolve, reject, timer });
      try {
        conn.transport.send(conn.codec.encode({ ...frame, id }));
      } catch {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new GonghuiError(0, "disconnected", "the connection is closing"));
      }
    });
  }

  private failPending(why: string): void {
    for (const [, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.reject(new GonghuiError(0, "disconnected", why));
    }
    this.pending.clear();
  }

  private startHeartbeat(conn: Connection): void {
    this.stopHeartbeat();
    const { intervalMs = 25_000, timeoutMs = 10_000 } = this.options.heartbeat ?? {};
    this.heartbeat = setInterval(() => {
      const timer = setTimeout(() => conn.transport.close(4000, "no reply to ping"), timeoutMs);
      this.request({ type: "ping" }, conn)
        .catch(() => undefined)
        .finally(() => clearTimeout(timer));
    }, intervalMs);
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** What a close means (docs/PROTOCOL.md, Close codes) and when to come back. */
  private closed(conn: Connection, code: number, reason: string): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.stopHeartbeat();
    this.failPending(`closed (${code} ${reason})`);
    if (this.state === "closed") return;
    this.emit("closed", code, reason);
    if (code === 4001) {
      this.setState("unauthenticated");
      this.emit("unauthenticated");
      return;
    }
    if (Date.now() - conn.openedAt >= STABLE_MS) this.attempt = 0;
    let delay: number;
    if (code === 4008) {
      delay = 0;
    } else if (code === 1012) {
      this.urlIndex++;
      delay = 0;
    } else if (code === 4029) {
      // Never sooner than 2 s: the server said this client asks too much.
      delay = TOO_MANY_FLOOR_MS + fullJitter(this.attempt++, this.options.backoff);
    } else {
      this.urlIndex++;
      delay = fullJitter(this.attempt++, this.options.backoff);
    }
    // Offline: the backoff still runs (the device may be wrong), and coming online cuts it short.
    this.setState(this.offline() ? "offline" : "reconnecting");
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.open(this.offline() ? "offline" : "reconnecting");
    }, delay);
  }
}

/** The slice of `wx` or `uni` that tells of the network and the app coming to the front. */
export interface AppEvents {
  onNetworkStatusChange(callback: (res: { isConnected: boolean }) => void): void;
  onAppShow?(callback: () => void): void;
}

/** Drops the connection when a mini-program loses its network; reconnects at once when it comes back or the app is shown again. */
export function watchMiniProgram(api: AppEvents, realtime: Realtime): void {
  api.onNetworkStatusChange((res) => (res.isConnected ? realtime.reconnectNow() : realtime.networkLost()));
  api.onAppShow?.(() => realtime.reconnectNow());
}

/** Drops the connection when the browser goes offline, and reconnects at once when it comes back online. */
export function watchBrowser(realtime: Realtime, target: EventTarget = globalThis as unknown as EventTarget): () => void {
  const online = () => realtime.reconnectNow();
  const offline = () => realtime.networkLost();
  target.addEventListener("online", online);
  target.addEventListener("offline", offline);
  return () => {
    target.removeEventListener("online", online);
    target.removeEventListener("offline", offline);
  };
}
