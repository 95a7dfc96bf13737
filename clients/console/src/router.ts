import { createRouter, createWebHistory } from "vue-router";
import { useSession } from "./stores/session";

// Each section is its own chunk, loaded when first opened.
export const router = createRouter({
  history: createWebHistory("/console/"),
  routes: [
    { path: "/login", name: "login", component: () => import("./views/LoginView.vue") },
    {
      path: "/",
      component: () => import("./layouts/MainLayout.vue"),
      children: [
        { path: "", redirect: "/queue" },
        { path: "queue", name: "queue", component: () => import("./views/QueueView.vue") },
        { path: "members", name: "members", component: () => import("./views/MembersView.vue") },
        { path: "activities", name: "activities", component: () => import("./views/ActivitiesView.vue") },
        { path: "org", name: "org", component: () => import("./views/OrgView.vue") },
        { path: "news", name: "news", component: () => import("./views/NewsView.vue") },
      ],
    },
    { path: "/:rest(.*)*", redirect: "/queue" },
  ],
});

router.beforeEach(async (to) => {
  const session = useSession();
  if (to.name === "login") return true;
  if (session.loggedIn) return true;
  if (await session.resume()) return true;
  return { name: "login", query: { next: to.fullPath } };
});
