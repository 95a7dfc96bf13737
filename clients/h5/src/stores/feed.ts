import { defineStore } from "pinia";
import { watch } from "vue";
import type { components } from "@gonghui/client";
import { attempt } from "@/feedback";
import { useMember } from "./member";
import { useSession } from "./session";

type Schemas = components["schemas"];

/** The news and activities of the member's union, read once and then kept live by its topic. */
export const useFeed = defineStore("feed", {
  state: () => ({
    union: null as number | null,
    news: [] as Schemas["NewsSummary"][],
    nextBefore: null as number | null,
    activities: [] as Schemas["Activity"][],
    /** Articles withdrawn while the feed was being read. */
    withdrawn: [] as number[],
  }),
  actions: {
    /** Reads the feeds of `union` (its own news and what its ancestors published to it). */
    async load(union: number) {
      const api = useSession().api;
      // What the union's topic brings while the lists are read is kept: a page read just
      // before a publish must not hide the article the event announced.
      this.union = union;
      this.news = [];
      this.activities = [];
      this.withdrawn = [];
      const [news, activities] = await Promise.all([
        api.get("/api/v1/unions/{union_id}/news", { params: { union_id: union }, query: { limit: 20 } }),
        api.get("/api/v1/unions/{union_id}/activities", { params: { union_id: union } }),
      ]).catch((e) => {
        // Read again when a page next asks.
        if (this.union === union) this.union = null;
        throw e;
      });
      if (this.union !== union) return;
      const live = (id: number, list: { id: number }[]) => list.some((x) => x.id === id);
      this.news = [...this.news, ...news.items.filter((n) => !live(n.id, this.news) && !this.withdrawn.includes(n.id))];
      this.nextBefore = news.next_before ?? null;
      this.activities = [...this.activities, ...activities.items.filter((a) => !live(a.id, this.activities))];
    },
    async moreNews() {
      if (this.union === null || this.nextBefore === null) return;
      const page = await useSession().api.get("/api/v1/unions/{union_id}/news", {
        params: { union_id: this.union },
        query: { limit: 20, before: this.nextBefore },
      });
      this.news.push(...page.items.filter((n) => !this.news.some((k) => k.id === n.id)));
      this.nextBefore = page.next_before ?? null;
    },
    putNews(news: Schemas["NewsSummary"]) {
      this.news = [news, ...this.news.filter((n) => n.id !== news.id)];
    },
    dropNews(id: number) {
      this.news = this.news.filter((n) => n.id !== id);
      this.withdrawn.push(id);
    },
    putActivity(activity: Schemas["Activity"]) {
      const at = this.activities.findIndex((a) => a.id === activity.id);
      if (at >= 0) this.activities[at] = activity;
      else this.activities.unshift(activity);
    },
  },
});

/** For a page showing the feeds: reads them for the member's union, and again when it changes. */
export function useUnionFeed() {
  const member = useMember();
  const feed = useFeed();
  watch(
    () => member.membership?.union_id,
    (union) => union && feed.union !== union && void attempt(() => feed.load(union)),
    { immediate: true },
  );
  return { member, feed };
}
