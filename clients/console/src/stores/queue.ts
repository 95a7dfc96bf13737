import { defineStore } from "pinia";
import type { components, EventOn, Snapshots, Subscription } from "@gonghui/client";
import { useSession } from "./session";

type Application = components["schemas"]["Application"];
type OrgRequest = components["schemas"]["OrgRequest"];

/** An application in the queue; once decided (here or by another admin) it stays, marked, until dismissed. */
export interface QueueItem {
  application: Application;
  /** The admin queues it is in: a transfer is in both unions'. */
  topics: string[];
}

/** The union of an admin topic, `union:{id}:admin`. */
const unionOf = (topic: string): number => Number(topic.split(":")[1]);

/** Events received and not yet applied (see `later`). */
const waiting: [string, EventOn<"union_admin">][] = [];

/** How far a union's running import has come, from `import.progress`. */
export interface Progress {
  operation_id: string;
  processed: number;
  total: number;
}

/**
 * The admin topics (`union:{id}:admin`) of every union the admin reviews, live: the
 * approval queue (入会审核、会籍转移) and the progress of imports. One subscription per
 * topic, shared by every page.
 */
export const useQueue = defineStore("queue", {
  state: () => ({
    items: {} as Record<number, QueueItem>,
    subscriptions: {} as Record<string, Subscription>,
    progress: {} as Record<number, Progress>,
    /** What the WeChat adapter last said of a union's official account, live. */
    wechat: {} as Record<number, { broken?: string; retryAt?: string }>,
    /** Org requests (登记、修改、换届) the admin reviews or made, by id. */
    requests: {} as Record<number, OrgRequest>,
  }),
  getters: {
    list: (s) => Object.values(s.items).sort((a, b) => a.application.id - b.application.id),
    pendingCount: (s) => Object.values(s.items).filter((i) => i.application.status === "pending").length,
  },
  actions: {
    /** Subscribes to each admin queue in `topics` not yet followed. */
    follow(topics: string[]) {
      const session = useSession();
      if (!session.live) return;
      for (const topic of topics) {
        if (this.subscriptions[topic]) continue;
        const fresh = (snapshot: Snapshots["union_admin"]) => {
          this.replace(topic, snapshot.pending);
          for (const request of snapshot.org_requests) this.requests[request.id] = request;
        };
        this.subscriptions[topic] = session.live.subscribe(topic as `union:${number}:admin`, {
          onSnapshot: fresh,
          onReset: fresh,
          onEvent: (event) => this.later(topic, event),
        });
      }
    },
    replace(topic: string, pending: Application[]) {
      for (const [id, item] of Object.entries(this.items)) {
        if (item.topics.includes(topic) && item.application.status === "pending") delete this.items[Number(id)];
      }
      for (const application of pending) this.put(topic, application);
    },
    put(topic: string, application: Application) {
      const item = this.items[application.id];
      if (item) {
        item.application = application;
        if (!item.topics.includes(topic)) item.topics.push(topic);
      } else {
        this.items[application.id] = { application, topics: [topic] };
      }
    },
    /**
     * Applies events once per frame, all that came since together: at a burst of
     * applications the table redraws 60 times a second at most, not once per event.
     */
    later(topic: string, event: EventOn<"union_admin">) {
      waiting.push([topic, event]);
      if (waiting.length > 1) return;
      requestAnimationFrame(() => {
        for (const [t, e] of waiting.splice(0)) this.apply(t, e);
      });
    },
    apply(topic: string, event: EventOn<"union_admin">) {
      switch (event.kind) {
        case "application.created":
          this.put(topic, event.data.application);
          break;
        case "application.approved":
        case "application.rejected":
          // A decision on something on screen marks it; one decided before it was shown is not news.
          if (this.items[event.data.application.id]) this.put(topic, event.data.application);
          break;
        case "import.progress":
          this.progress[unionOf(topic)] = event.data;
          break;
        case "wechat.binding_broken":
          this.wechat[unionOf(topic)] = { broken: event.data.reason };
          break;
        case "wechat.poll_failed":
          this.wechat[unionOf(topic)] = { retryAt: event.data.retry_at };
          break;
        case "org_request.created":
        case "org_request.approved":
        case "org_request.rejected":
          this.requests[event.data.request.id] = event.data.request;
      }
    },
    dismiss(id: number) {
      delete this.items[id];
    },
    async approve(id: number) {
      const item = await useSession().api.post("/api/v1/applications/{id}/approve", { params: { id } });
      this.put(this.items[id]?.topics[0] ?? "", item);
    },
    async reject(id: number, reason: string) {
      const item = await useSession().api.post("/api/v1/applications/{id}/reject", { params: { id }, body: { reason } });
      this.put(this.items[id]?.topics[0] ?? "", item);
    },
    stop() {
      for (const sub of Object.values(this.subscriptions)) sub.unsubscribe();
      this.subscriptions = {};
      this.items = {};
    },
  },
});
