import { defineStore } from "pinia";
import { markRaw } from "vue";
import { GonghuiError, Realtime, RestClient, type ConnectionState, type Hello, type components, type Nodes } from "@gonghui/client";

type Me = components["schemas"]["Me"];

const SAVED = "gonghui.console.token";

/** Who is logged in, the API and the one realtime connection every page shares. */
export const useSession = defineStore("session", {
  state: () => ({
    nodes: { http: [], ws: [], mapTiles: null } as Nodes,
    token: localStorage.getItem(SAVED) ?? "",
    me: null as Me | null,
    connection: "closed" as ConnectionState,
    hello: null as Hello | null,
    api: markRaw(new RestClient({ urls: [window.location.origin] })),
    live: null as Realtime | null,
  }),
  getters: {
    loggedIn: (s) => s.token !== "" && s.me !== null,
    /** The admin queues the user reviews, from hello. */
    queueTopics: (s) => (s.hello?.topics ?? []).filter((t) => t.endsWith(":admin")),
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
      const answer = await this.api.post("/api/v1/auth/login", { body: { phone, client: "console", ...secret } });
      this.token = answer.token;
      localStorage.setItem(SAVED, answer.token);
      await this.resume();
      if (this.me && this.me.admin_of.length === 0) {
        this.forget();
        throw new GonghuiError(403, "forbidden", "not an admin");
      }
    },
    /** Reads who the saved token belongs to and connects; false when it no longer works. */
    async resume(): Promise<boolean> {
      if (!this.token) return false;
      this.api.setToken(this.token);
      try {
        this.me = await this.api.get("/api/v1/me");
      } catch {
        this.forget();
        return false;
      }
      this.connect();
      return true;
    },
    connect() {
      this.live?.close();
      const live = markRaw(
        new Realtime({ urls: this.nodes.ws, token: () => this.token, client: "console", codec: "json" }),
      );
      live.on("state", (state) => (this.connection = state));
      live.on("hello", (hello) => (this.hello = hello));
      live.on("unauthenticated", () => this.forget());
      this.live = live;
      live.connect();
    },
    async logout() {
      await this.api.post("/api/v1/auth/logout").catch(() => undefined);
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
