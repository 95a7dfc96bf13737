import type { components as Events, EventDataMap, TopicEvents } from "./generated/events.js";
import type { components } from "./generated/openapi.js";

type Schemas = components["schemas"];

/** Every kind of event the server sends. */
export type EventKind = keyof EventDataMap;

/** The kinds of topic: `member`, `union`, `union_admin`, `activity`. */
export type TopicKind = keyof TopicEvents;

/** A topic's name. */
export type Topic = `member:${number}` | `union:${number}` | `union:${number}:admin` | `activity:${number}`;

/** The kind of a topic name, so `subscribe("member:7", …)` knows its events and snapshot. */
export type TopicKindOf<T extends string> = T extends `member:${number}`
  ? "member"
  : T extends `union:${number}:admin`
    ? "union_admin"
    : T extends `union:${number}`
      ? "union"
      : T extends `activity:${number}`
        ? "activity"
        : TopicKind;

/** One event as it reaches a subscriber. */
export interface GonghuiEvent<K extends EventKind = EventKind> {
  topic: string;
  seq: number;
  kind: K;
  /** The commit time, RFC 3339. */
  at: string;
  data: EventDataMap[K];
}

/** Any event, as a union discriminated by `kind`. */
export type AnyEvent = { [K in EventKind]: GonghuiEvent<K> }[EventKind];

/** The events a kind of topic carries, as a union discriminated by `kind`. */
export type EventOn<T extends TopicKind> = { [K in TopicEvents[T]]: GonghuiEvent<K> }[TopicEvents[T]];

/** What each kind of topic's snapshot holds (docs/PROTOCOL.md, Topics). */
export interface Snapshots {
  member: {
    user: Schemas["User"];
    memberships: Schemas["Membership"][];
    applications: Schemas["Application"][];
    unread: number;
  };
  union: { union: Schemas["Union"]; member_count: number };
  union_admin: { pending: Schemas["Application"][]; org_requests: Schemas["OrgRequest"][] };
  activity: { activity: Schemas["Activity"]; results: Events["schemas"]["Results"] };
}

/** The kinds of client a token is issued to. */
export type ClientKind = "console" | "app" | "miniprogram";
