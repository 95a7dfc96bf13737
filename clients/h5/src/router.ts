import { createRouter, createWebHistory } from "vue-router";
import { useSession } from "./stores/session";

// Each page is its own chunk, loaded when first opened: the first screen carries only the
// framework, the login page and the home tab.
export const router = createRouter({
  history: createWebHistory("/h5/"),
  routes: [
    { path: "/login", name: "login", component: () => import("./views/LoginView.vue"), meta: { open: true } },
    {
      path: "/",
      component: () => import("./views/TabsLayout.vue"),
      children: [
        { path: "", name: "home", component: () => import("./views/HomeView.vue") },
        { path: "activities", name: "activities", component: () => import("./views/ActivitiesView.vue") },
        { path: "inbox", name: "inbox", component: () => import("./views/InboxView.vue") },
        { path: "me", name: "me", component: () => import("./views/MeView.vue") },
      ],
    },
    { path: "/activities/:id", name: "activity", component: () => import("./views/ActivityView.vue"), props: (r) => ({ id: Number(r.params.id) }) },
    { path: "/news/:id", name: "article", component: () => import("./views/ArticleView.vue"), props: (r) => ({ id: Number(r.params.id) }) },
    { path: "/verify", name: "verify", component: () => import("./views/VerifyView.vue") },
    { path: "/unions", name: "unions", component: () => import("./views/FindUnionView.vue") },
    { path: "/card", name: "card", component: () => import("./views/CardView.vue") },
    { path: "/prizes", name: "prizes", component: () => import("./views/PrizesView.vue") },
    { path: "/password", name: "password", component: () => import("./views/PasswordView.vue") },
    { path: "/approvals", name: "approvals", component: () => import("./views/ApprovalsView.vue") },
    { path: "/:rest(.*)*", redirect: "/" },
  ],
});

router.beforeEach(async (to) => {
  const session = useSession();
  if (to.meta.open || session.loggedIn) return true;
  if (await session.resume()) return true;
  return { name: "login", query: { next: to.fullPath } };
});
