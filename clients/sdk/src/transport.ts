/** What a transport tells the client. `close` comes exactly once per connection, also when it never opened. */
export interface TransportEvents {
  open(): void;
  message(data: string | ArrayBuffer | Uint8Array): void;
  close(code: number, reason: string): void;
}

/** One connection, whatever the platform gives. */
export interface Transport {
  send(data: string | Uint8Array): void;
  close(code: number, reason: string): void;
}

/** Opens a connection to `url` asking for `protocols`. */
export type TransportFactory = (url: string, protocols: string[], events: TransportEvents) => Transport;

/** Calls `close` at most once, whichever of error and close the platform fires (or both). */
function once(events: TransportEvents): TransportEvents {
  let closed = false;
  return {
    open: () => events.open(),
    message: (data) => events.message(data),
    close: (code, reason) => {
      if (closed) return;
      closed = true;
      events.close(code, reason);
    },
  };
}

/** The shape of the standard `WebSocket` (browsers) and of Node's `ws`. */
export interface WebSocketLike {
  binaryType: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string | ArrayBufferLike | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** A standard WebSocket constructor: the browser's `WebSocket`, or Node's `ws` passed in. */
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

/** The transport over `WebSocket` (default: the global one, as in browsers). */
export function webSocketTransport(Ctor?: WebSocketConstructor): TransportFactory {
  return (url, protocols, raw) => {
    const events = once(raw);
    const Impl = Ctor ?? (globalThis as unknown as { WebSocket: WebSocketConstructor }).WebSocket;
    const socket = new Impl(url, protocols);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => events.open();
    socket.onmessage = (event) => events.message(event.data as string | ArrayBuffer);
    socket.onclose = (event) => events.close(event.code, event.reason);
    socket.onerror = () => events.close(1006, "connection error");
    return {
      send: (data) => socket.send(data),
      close: (code, reason) => {
        socket.close(code, reason);
        events.close(code, reason);
      },
    };
  };
}

/** The `SocketTask` a mini-program's `wx.connectSocket` (or uni-app's `uni.connectSocket`) answers. */
export interface SocketTask {
  onOpen(callback: () => void): void;
  onMessage(callback: (res: { data: string | ArrayBuffer }) => void): void;
  onClose(callback: (res: { code: number; reason: string }) => void): void;
  onError(callback: (res: { errMsg: string }) => void): void;
  send(options: { data: string | ArrayBuffer; fail?: (res: { errMsg: string }) => void }): void;
  close(options: { code?: number; reason?: string }): void;
}

/** The slice of `wx` or `uni` that opens sockets. */
export interface SocketApi {
  connectSocket(options: {
    url: string;
    protocols: string[];
    complete?: () => void;
  }): SocketTask;
}

/**
 * The transport of a WeChat mini-program (`wxSocketTransport(wx)`) or of uni-app
 * (`wxSocketTransport(uni)`): a SocketTask per connection, the subprotocol through
 * `protocols`, binary frames as `ArrayBuffer`. A task that fails without closing (some
 * platforms fire only `onError`) counts as closed with 1006.
 */
export function wxSocketTransport(api: SocketApi): TransportFactory {
  return (url, protocols, raw) => {
    const events = once(raw);
    // uni-app answers a SocketTask only when a callback is given.
    const task = api.connectSocket({ url, protocols, complete: () => undefined });
    task.onOpen(() => events.open());
    task.onMessage((res) => events.message(res.data));
    task.onClose((res) => events.close(res.code ?? 1006, res.reason ?? ""));
    task.onError((res) => events.close(1006, res.errMsg));
    return {
      send: (data) => {
        const payload =
          typeof data === "string" ? data : (data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer);
        task.send({ data: payload, fail: (res) => events.close(1006, res.errMsg) });
      },
      close: (code, reason) => {
        task.close({ code, reason });
        events.close(code, reason);
      },
    };
  };
}
