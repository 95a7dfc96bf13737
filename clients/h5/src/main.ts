import { createPinia } from "pinia";
import { createApp } from "vue";
import { loadNodes } from "@gonghui/client";
import App from "./App.vue";
import { router } from "./router";
import { useSession } from "./stores/session";

const app = createApp(App).use(createPinia());
useSession().init(await loadNodes("/h5/config.json"));
app.use(router).mount("#app");
