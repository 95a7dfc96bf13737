// How every page tells an admin that something failed: one sentence, naming a missing
// right as such; a closed prompt ("cancel") is no failure.
import { ElMessage } from "element-plus";
import { GonghuiError } from "@gonghui/client";
import { zhCN } from "./i18n/zh-CN";

/** Shows why `e` failed, unless the admin merely closed a prompt. */
export function explain(e: unknown): void {
  if (e === "cancel") return;
  if (!(e instanceof GonghuiError)) {
    ElMessage.error(String(e));
  } else if (e.code === "forbidden") {
    ElMessage.error(`${zhCN.errors.forbidden}：${e.message}`);
  } else {
    ElMessage.error(e.status === 0 ? zhCN.errors.network : e.message);
  }
}

/** Runs `action`, saying "done" when it succeeds and why when it fails; answers whether it succeeded. */
export async function attempt(action: () => Promise<unknown>, done?: string): Promise<boolean> {
  try {
    await action();
    if (done) ElMessage.success(done);
    return true;
  } catch (e) {
    explain(e);
    return false;
  }
}
