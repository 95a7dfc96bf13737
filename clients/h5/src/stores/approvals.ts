import { defineStore } from "pinia";
import type { EventOn, Snapshots, Subscription, components } from "@gonghui/client";
import { useSession } from "./session";

type Schemas = components["schemas"];

/** The permissions that give an admin a queue to review on the phone. */
const REVIEWS = ["members.review", "org.manage"];

/**
 * 工会管理 on the phone: the pending joins, transfers and org requests of every union the
 * admin reviews, live. A decision, here or by any other admin anywhere, takes the item
 * off the list at once.
 */
export const useApprovals = defineStore("approvals", {
  state: () => ({
    applications: {} as Record<number, Schemas["Application"]>,
    requests: {} as Record<number, Schemas["OrgRequest"]>,
    subscriptions: {} as Record<string, Subscription>,
  }),
  getters: {
    /** The unions whose queues the user reviews, from the rights /me gave. */
    unions: () =>
      (useSession().me?.admin_of ?? []).filter((a) => a.permissions.some((p) => REVIEWS.includes(p))).map((a) => a.union_id),
    pendingApplications: (s) => Object.values(s.applications).sort((a, b) => a.id - b.id),
    pendingRequests: (s) => Object.values(s.requests).sort((a, b) => a.id - b.id),
    count(): number {
      return this.pendingApplications.length + this.pendingRequests.length;
    },
  },
  actions: {
    /** Follows the admin topic of each union the user reviews now; drops the others. */
    follow() {
      const session = useSession();
      if (!session.live) return;
      const topics = this.unions.map((id) => `union:${id}:admin` as const);
      for (const [topic, sub] of Object.entries(this.subscriptions)) {
        if (!topics.includes(topic as `union:${number}:admin`)) {
          sub.unsubscribe();
          delete this.subscriptions[topic];
        }
      }
      for (const topic of topics) {
        if (this.subscriptions[topic]) continue;
        const fresh = (snapshot: Snapshots["union_admin"]) => {
          for (const a of snapshot.pending) this.applications[a.id] = a;
          for (const r of snapshot.org_requests) if (r.status === "pending") this.requests[r.id] = r;
        };
        this.subscriptions[topic] = session.live.subscribe(topic, {
          onSnapshot: fresh,
          onReset: fresh,
          onEvent: (event) => this.apply(event),
          onEnded: () => delete this.subscriptions[topic],
        });
      }
    },
    apply(event: EventOn<"union_admin">) {
      switch (event.kind) {
        case "application.created":
          this.applications[event.data.application.id] = event.data.application;
          break;
        case "application.approved":
        case "application.rejected":
          delete this.applications[event.data.application.id];
          break;
        case "org_request.created":
          this.requests[event.data.request.id] = event.data.request;
          break;
        case "org_request.approved":
        case "org_request.rejected":
          delete this.requests[event.data.request.id];
          break;
      }
    },
    /** Whether the admin decides `application`: a transfer away from their union is the receiving union's to decide. */
    decides(application: Schemas["Application"]): boolean {
      return application.kind === "join" || !this.unions.includes(application.from_union_id ?? 0) || this.unions.includes(application.union_id);
    },
    async decide(id: number, reason?: string) {
      const api = useSession().api;
      if (reason === undefined) await api.post("/api/v1/applications/{id}/approve", { params: { id } });
      else await api.post("/api/v1/applications/{id}/reject", { params: { id }, body: { reason } });
      delete this.applications[id];
    },
    async decideRequest(id: number, reason?: string) {
      const api = useSession().api;
      if (reason === undefined) await api.post("/api/v1/org-requests/{id}/approve", { params: { id } });
      else await api.post("/api/v1/org-requests/{id}/reject", { params: { id }, body: { reason } });
      delete this.requests[id];
    },
  },
});
