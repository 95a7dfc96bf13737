import { createPinia } from "pinia";
import { createApp } from "vue";
import { loadNodes } from "@gonghui/client";
import App from "./App.vue";
import { router } from "./router";
import { useSession } from "./stores/session";

// The first page's code is fetched while the nodes and the user are read, not after.
void (localStorage.getItem("gonghui.h5.token") ? Promise.all([import("./views/TabsLayout.vue"), import("./views/HomeView.vue")]) : import("./views/LoginView.vue"));

const app = createApp(App).use(createPinia());
useSession().init(await loadNodes("/h5/config.json"));
app.use(router).mount("#app");
