import { defineStore } from "pinia";
import { useSession } from "./session";

/** The union the admin works on now, among those they hold a permission on. */
export const useScope = defineStore("scope", {
  state: () => ({ unionId: 0 }),
  actions: {
    /** The unions where the admin holds `permission`. */
    unionsWith(permission: string): number[] {
      return (useSession().me?.admin_of ?? []).filter((a) => a.permissions.includes(permission)).map((a) => a.union_id);
    },
    /** Picks the first union with `permission` unless one already is. */
    ensure(permission: string): number {
      const unions = this.unionsWith(permission);
      if (!unions.includes(this.unionId)) this.unionId = unions[0] ?? 0;
      return this.unionId;
    },
  },
});
