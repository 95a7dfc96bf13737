// How every page tells a member that something failed or worked: one short toast, in
// words a member understands; a missing right is named as such.
import { showFailToast, showSuccessToast } from "vant";
import "vant/es/toast/style";
import { GonghuiError } from "@gonghui/client";

/** What to tell a member about `e`. */
export function reason(e: unknown): string {
  if (!(e instanceof GonghuiError)) return String(e);
  if (e.status === 0) return "网络不通，请稍后再试";
  if (e.code === "forbidden") return `没有权限：${e.message}`;
  const field = e.fields && Object.values(e.fields)[0];
  return field ? `${e.message}：${field}` : e.message;
}

/** Runs `action`, saying `done` when it succeeds and why when it fails; answers whether it succeeded. */
export async function attempt(action: () => Promise<unknown>, done?: string): Promise<boolean> {
  try {
    await action();
    if (done) showSuccessToast(done);
    return true;
  } catch (e) {
    showFailToast({ message: reason(e), wordBreak: "break-word" });
    return false;
  }
}
