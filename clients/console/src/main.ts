import { createPinia } from "pinia";
import { createApp } from "vue";
import "element-plus/dist/index.css";
import App from "./App.vue";
import { loadNodes } from "@gonghui/client";
import { router } from "./router";
import { useSession } from "./stores/session";

const app = createApp(App).use(createPinia());
useSession().init(await loadNodes("/console/config.json"));
app.use(router).mount("#app");
