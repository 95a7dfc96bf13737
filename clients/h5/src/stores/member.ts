import { defineStore } from "pinia";
import type { EventOn, Snapshots, Subscription, components } from "@gonghui/client";
import { useApprovals } from "./approvals";
import { useFeed } from "./feed";
import { useInbox } from "./inbox";
import { topicCache, useSession } from "./session";

type Schemas = components["schemas"];
type MemberState = Snapshots["member"] & { receipts: Record<number, Schemas["Receipt"]> };

/**
 * The unread count moves on two topics, the member's (their own messages, with the count)
 * and the union's (announcements, +1 each), and fresh snapshots of the two are taken at
 * different moments: an announcement may be in both or in neither. So for a moment after
 * a fresh snapshot of the union's topic announcements are not counted one by one, and then
 * the count is read from the server once.
 */
const SETTLE_MS = 1500;
let settling: object | null = null;

/** The member's own topic and their union's, followed live and kept across page loads. */
export const useMember = defineStore("member", {
  state: () => ({
    user: null as Schemas["User"] | null,
    memberships: [] as Schemas["Membership"][],
    applications: [] as Schemas["Application"][],
    unread: 0,
    /** Receipts of the activities answered on any of the member's devices. */
    receipts: {} as Record<number, Schemas["Receipt"]>,
    /** The union of the current membership, as its topic says. */
    union: null as Schemas["Union"] | null,
    /** The member's prizes, once a page asked for them; shipping updates them live. */
    prizes: null as Schemas["MyPrize"][] | null,
    subscriptions: {} as { member?: Subscription; union?: Subscription },
  }),
  getters: {
    /** The membership that counts now (active or retired), if any. */
    membership: (s) => s.memberships.find((m) => m.status !== "left") ?? null,
    pending: (s) => s.applications.filter((a) => a.status === "pending"),
  },
  actions: {
    /** Follows `member:{id}` (and through it the union): at once from what was kept, then live. */
    start() {
      const session = useSession();
      if (!session.live || !session.me || this.subscriptions.member) return;
      const topic = `member:${session.me.user.id}` as const;
      const kept = topicCache()!.get<MemberState>(topic);
      if (kept) this.fill(kept.state);
      const fresh = (snapshot: Snapshots["member"]) => {
        this.fill({ ...snapshot, receipts: this.receipts });
        this.keep();
      };
      this.subscriptions.member = session.live.subscribe(topic, {
        onSnapshot: fresh,
        onReset: fresh,
        onEvent: (event) => {
          this.apply(event);
          this.keep();
        },
      });
    },
    fill(state: MemberState) {
      this.user = state.user;
      this.memberships = state.memberships;
      this.applications = state.applications;
      this.unread = state.unread;
      this.receipts = state.receipts ?? {};
      this.followUnion();
    },
    /** Keeps the member's state with the seq of their topic it reflects (the unread count also moves with announcements on the union's). */
    keep() {
      const seq = this.subscriptions.member?.seq;
      if (!this.user || seq === undefined) return;
      topicCache()?.put<MemberState>(`member:${this.user.id}`, seq, {
        user: this.user,
        memberships: this.memberships,
        applications: this.applications,
        unread: this.unread,
        receipts: this.receipts,
      });
    },
    apply(event: EventOn<"member">) {
      switch (event.kind) {
        case "application.created":
        case "application.approved":
        case "application.rejected": {
          const a = event.data.application;
          this.applications = [a, ...this.applications.filter((x) => x.id !== a.id)];
          break;
        }
        case "membership.created":
        case "membership.updated":
        case "membership.ended": {
          const m = event.data.membership;
          this.memberships = [m, ...this.memberships.filter((x) => x.union_id !== m.union_id)];
          this.followUnion();
          break;
        }
        case "notification.created":
          this.unread = event.data.unread ?? this.unread + 1;
          useInbox().add(event.data.notification);
          break;
        case "notification.read":
          this.unread = event.data.unread;
          useInbox().markRead(event.data.ids);
          break;
        case "user.updated":
          this.user = event.data.user;
          break;
        case "admin.updated":
        case "admin.removed":
          void useSession()
            .refresh()
            .then(() => useApprovals().follow());
          break;
        case "activity.answered":
          this.answered(event.data.receipt);
          break;
        case "prize.shipped": {
          const p = event.data.prize;
          if (this.prizes) this.prizes = [p, ...this.prizes.filter((x) => x.activity_id !== p.activity_id)];
          break;
        }
      }
    },
    /** Follows the topic of the current membership's union, and only that one. */
    followUnion() {
      const session = useSession();
      const id = this.membership?.union_id;
      const topic = id ? (`union:${id}` as const) : undefined;
      if (this.subscriptions.union?.topic === topic) return;
      this.subscriptions.union?.unsubscribe();
      this.subscriptions.union = undefined;
      this.union = null;
      if (!topic || !session.live) return;
      const kept = topicCache()!.get<Schemas["Union"]>(topic);
      if (kept) this.union = kept.state;
      const keep = (seq: number) => this.union && topicCache()?.put(topic, seq, this.union);
      const fresh = (snapshot: Snapshots["union"], seq: number) => {
        this.union = snapshot.union;
        keep(seq);
        const settle = {};
        settling = settle;
        setTimeout(() => {
          if (settling !== settle) return;
          settling = null;
          void this.recount().catch(() => undefined);
        }, SETTLE_MS);
      };
      this.subscriptions.union = session.live.subscribe(topic, {
        onSnapshot: fresh,
        onReset: fresh,
        onEvent: (event) => {
          this.applyUnion(event);
          keep(event.seq);
        },
        onEnded: () => {
          this.subscriptions.union = undefined;
          this.union = null;
        },
      });
    },
    applyUnion(event: EventOn<"union">) {
      const feed = useFeed();
      switch (event.kind) {
        case "union.updated":
          this.union = event.data.union;
          break;
        case "notification.created":
          // An announcement: one for the whole union, so it carries no count of one's own.
          if (!settling) this.unread += 1;
          this.keep();
          useInbox().add(event.data.notification);
          break;
        case "news.published":
          feed.putNews(event.data.news);
          break;
        case "news.unpublished":
          feed.dropNews(event.data.news_id);
          break;
        case "activity.published":
        case "activity.closed":
          feed.putActivity(event.data.activity);
          break;
      }
    },
    /** Keeps a receipt of the member's, from any device. */
    answered(receipt: Schemas["Receipt"]) {
      this.receipts = { ...this.receipts, [receipt.activity_id]: receipt };
      this.keep();
    },
    /** Reads the unread count from the server (SETTLE_MS says why). */
    async recount() {
      const page = await useSession().api.get("/api/v1/me/notifications", { query: { limit: 1 } });
      this.unread = page.unread;
      this.keep();
    },
    async loadPrizes() {
      this.prizes = (await useSession().api.get("/api/v1/me/prizes")).items;
    },
    stop() {
      this.subscriptions.member?.unsubscribe();
      this.subscriptions.union?.unsubscribe();
      this.$reset();
    },
  },
});
