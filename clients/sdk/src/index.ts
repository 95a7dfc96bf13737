export { GonghuiError } from "./errors.js";
export { RestClient, wxRequestFetch, type CallOptions, type FetchLike, type RestOptions, type RequestApi } from "./rest.js";
export {
  Realtime,
  watchBrowser,
  watchMiniProgram,
  type AppEvents,
  type ConnectionState,
  type Hello,
  type RealtimeOptions,
  type Subscription,
  type SubscriptionHandlers,
} from "./realtime.js";
export {
  webSocketTransport,
  wxSocketTransport,
  type SocketApi,
  type SocketTask,
  type Transport,
  type TransportEvents,
  type TransportFactory,
  type WebSocketConstructor,
} from "./transport.js";
export { memoryStorage, webStorage, wxStorage, type SeqStorage } from "./storage.js";
export { fullJitter, type BackoffOptions } from "./backoff.js";
export { jsonCodec, msgpackCodec, type Codec } from "./codec.js";
export type { AnyEvent, ClientKind, EventKind, EventOn, GonghuiEvent, Snapshots, Topic, TopicKind, TopicKindOf } from "./types.js";
export type { paths, components, operations } from "./generated/openapi.js";
export { loadNodes, type Nodes } from "./nodes.js";
