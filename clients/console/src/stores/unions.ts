import { defineStore } from "pinia";
import { useSession } from "./session";

/** Union names by id, read once each, for lists that show ids. */
export const useUnions = defineStore("unions", {
  state: () => ({ names: {} as Record<number, string> }),
  actions: {
    name(id: number | null | undefined): string {
      if (id === null || id === undefined) return "";
      if (!(id in this.names)) {
        this.names[id] = `#${id}`;
        useSession()
          .api.get("/api/v1/unions/{union_id}", { params: { union_id: id } })
          .then((union) => (this.names[id] = union.name))
          .catch(() => undefined);
      }
      return this.names[id];
    },
  },
});
