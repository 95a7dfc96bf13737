import { defineStore } from "pinia";
import { markRaw } from "vue";
import { Realtime, RestClient, watchBrowser, type ConnectionState, type Hello, type Nodes, type components } from "@gonghui/client";
import { TopicCache } from "@/cache";

type Me = components["schemas"]["Me"];

const SAVED = "gonghui.h5.token";

/** Stops listening for the browser coming back online, for the connection before. */
let unwatch: (() => void) | undefined;

/** The permissions that give an admin a queue to review on the phone (工会管理). */
const REVIEWS = ["members.review", "org.manage"];

/** Who is logged in, the API, and the one realtime connection every page shares. */
export const useSession = defineStore("session", {
  state: () => ({
    nodes: { http: [], ws: [], mapTiles: null } as Nodes,
    token: localStorage.getItem(SAVED) ?? "",
    me: null as Me | null,
    connection: "closed" as ConnectionState,
    hello: null as Hello | null,
    api: markRaw(new RestClient({ urls: [window.location.origin] })),
    live: null as Realtime | null,
    cache: null as TopicCache | null,
  }),
  getters: {
    loggedIn: (s) => s.token !== "" && s.me !== null,
    /** The unions whose queues the user reviews, from the rights /me gave. */
    reviews: (s) => (s.me?.admin_of ?? []).filter((a) => a.permissions.some((p) => REVIEWS.includes(p))).map((a) => a.union_id),
  },
  actions: {
    init(nodes: Nodes) {
      this.nodes = nodes;
      this.api = markRaw(new RestClient({ urls: nodes.http, onUnauthorized: () => this.forget() }));
    },
    async sendCode(phone: string) {
      await this.api.post("/api/v1/auth/sms-codes", { body: { phone } });
    },
    async login(phone: string, secret: { password: string } | { sms_code: string }) {
      const answer = await this.api.post("/api/v1/auth/login", { body: { phone, client: "app", ...secret } });
      this.token = answer.token;
      localStorage.setItem(SAVED, answer.token);
      await this.resume();
    },
    /** Reads who the saved token belongs to and connects; false when it no longer works. */
    async resume(): Promise<boolean> {
      if (!this.token) return false;
      this.api.setToken(this.token);
      try {
        await this.refresh();
      } catch {
        this.forget();
        return false;
      }
      this.connect();
      return true;
    },
    /** Reads the user, their memberships and rights again (after a change of rights). */
    async refresh() {
      this.me = await this.api.get("/api/v1/me");
    },
    connect() {
      this.live?.close();
      const cache = markRaw(new TopicCache(`gonghui.h5.${this.me!.user.id}:`));
      const live = markRaw(
        new Realtime({
          urls: this.nodes.ws,
          token: () => this.token,
          client: "app",
          storage: cache.seqs(),
          storageKey: `gonghui.h5.${this.me!.user.id}:`,
        }),
      );
      live.on("state", (state) => (this.connection = state));
      live.on("hello", (hello) => (this.hello = hello));
      live.on("unauthenticated", () => this.forget());
      unwatch?.();
      unwatch = watchBrowser(live);
      this.cache = cache;
      this.live = live;
      live.connect();
    },
    async logout() {
      await this.api.post("/api/v1/auth/logout").catch(() => undefined);
      this.cache?.clear();
      this.forget();
    },
    forget() {
      this.live?.close();
      this.live = null;
      this.token = "";
      this.me = null;
      this.hello = null;
      localStorage.removeItem(SAVED);
      this.api.setToken(undefined);
    },
  },
});
