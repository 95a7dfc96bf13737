// Who is logged in to a web app (the console, the H5), the API, and the one realtime
// connection all its pages share: one Pinia store, the same in both apps but for what each
// passes in.
import { defineStore } from "pinia";
import { markRaw } from "vue";
import { Realtime, RestClient, type ClientKind, type ConnectionState, type Hello, type Nodes, type RealtimeOptions, type components } from "@gonghui/client";

type Me = components["schemas"]["Me"];

/** What an app adds to the shared session. */
export interface SessionHooks {
  /** The client kind its tokens are issued to. */
  client: ClientKind;
  /** Where its token is kept in `localStorage`. */
  tokenKey: string;
  /** Refuses a user the app is not for (throws a `GonghuiError`); the session is forgotten first. */
  admit?(me: Me): void;
  /** More options for the user's realtime connection (where seqs are kept, the codec). */
  realtime?(me: Me): Partial<RealtimeOptions>;
  /** Called with each new connection, before it connects. */
  connected?(live: Realtime): void;
  /** Called on logging out, before the session is forgotten. */
  loggingOut?(me: Me | null): void;
}

/** The session store of an app: `defineSession({ client: "app", tokenKey: "…" })`. */
export function defineSession(hooks: SessionHooks) {
  return defineStore("session", {
    state: () => ({
      nodes: { http: [], ws: [], mapTiles: null } as Nodes,
      token: localStorage.getItem(hooks.tokenKey) ?? "",
      me: null as Me | null,
      connection: "closed" as ConnectionState,
      hello: null as Hello | null,
      api: markRaw(new RestClient({ urls: [window.location.origin] })),
      live: null as Realtime | null,
    }),
    getters: {
      loggedIn: (s) => s.token !== "" && s.me !== null,
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
        const answer = await this.api.post("/api/v1/auth/login", { body: { phone, client: hooks.client, ...secret } });
        this.token = answer.token;
        localStorage.setItem(hooks.tokenKey, answer.token);
        await this.resume();
        if (this.me && hooks.admit) {
          try {
            hooks.admit(this.me);
          } catch (refused) {
            this.forget();
            throw refused;
          }
        }
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
        const live = markRaw(
          new Realtime({ urls: this.nodes.ws, token: () => this.token, client: hooks.client, codec: "json", ...hooks.realtime?.(this.me!) }),
        );
        live.on("state", (state) => (this.connection = state));
        live.on("hello", (hello) => (this.hello = hello));
        live.on("unauthenticated", () => this.forget());
        hooks.connected?.(live);
        this.live = live;
        live.connect();
      },
      async logout() {
        await this.api.post("/api/v1/auth/logout").catch(() => undefined);
        hooks.loggingOut?.(this.me);
        this.forget();
      },
      forget() {
        this.live?.close();
        this.live = null;
        this.token = "";
        this.me = null;
        this.hello = null;
        localStorage.removeItem(hooks.tokenKey);
        this.api.setToken(undefined);
      },
    },
  });
}
