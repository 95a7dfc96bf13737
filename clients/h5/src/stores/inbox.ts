import { defineStore } from "pinia";
import type { components } from "@gonghui/client";
import { useSession } from "./session";

type Notification = components["schemas"]["Notification"];

/** The inbox (消息) as far as it was read from the server, kept live by the member's topics. */
export const useInbox = defineStore("inbox", {
  state: () => ({
    items: [] as Notification[],
    nextBefore: null as number | null,
    loaded: false,
  }),
  actions: {
    async load() {
      const page = await useSession().api.get("/api/v1/me/notifications", { query: { limit: 20 } });
      this.items = page.items;
      this.nextBefore = page.next_before ?? null;
      this.loaded = true;
    },
    async more() {
      if (this.nextBefore === null) return;
      const page = await useSession().api.get("/api/v1/me/notifications", { query: { limit: 20, before: this.nextBefore } });
      const known = new Set(this.items.map((n) => n.id));
      this.items.push(...page.items.filter((n) => !known.has(n.id)));
      this.nextBefore = page.next_before ?? null;
    },
    add(notification: Notification) {
      if (!this.loaded || this.items.some((n) => n.id === notification.id)) return;
      this.items.unshift(notification);
    },
    markRead(ids: number[]) {
      const read = new Set(ids);
      for (const n of this.items) if (read.has(n.id)) n.read = true;
    },
    /** Marks messages read here and, through the event it causes, on every other device. */
    async read(body: { ids: number[] } | { all: true }) {
      const answer = await useSession().api.post("/api/v1/me/notifications/read", { body });
      this.markRead(answer.ids);
    },
  },
});
