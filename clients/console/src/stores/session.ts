import { GonghuiError } from "@gonghui/client";
import { defineSession } from "../../../web/session";

/** Who is logged in to the console, the API and the one realtime connection every page shares; only admins get in. */
export const useSession = defineSession({
  client: "console",
  tokenKey: "gonghui.console.token",
  admit: (me) => {
    if (me.admin_of.length === 0) throw new GonghuiError(403, "forbidden", "not an admin");
  },
});
