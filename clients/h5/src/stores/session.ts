import { watchBrowser } from "@gonghui/client";
import { TopicCache } from "@/cache";
import { defineSession } from "../../../web/session";

/** Stops listening to the browser's network events, for the connection before. */
let unwatch: (() => void) | undefined;
/** What the current user's topics said, kept across page loads (see cache.ts). */
let cache: TopicCache | null = null;
const prefix = (userId: number) => `gonghui.h5.${userId}:`;

/** Who is logged in to the H5, the API and the one realtime connection every page shares. */
export const useSession = defineSession({
  client: "app",
  tokenKey: "gonghui.h5.token",
  realtime: (me) => {
    cache = new TopicCache(prefix(me.user.id));
    return { storage: cache.seqs(), storageKey: prefix(me.user.id) };
  },
  connected: (live) => {
    unwatch?.();
    unwatch = watchBrowser(live);
  },
  loggingOut: () => cache?.clear(),
});

/** The kept topic states of the user logged in. */
export function topicCache(): TopicCache | null {
  return cache;
}
