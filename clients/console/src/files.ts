// Spreadsheets to and from the API: uploads as the raw request body, downloads fetched
// with the token (a plain link could not carry it) and handed to the browser to save.
import { GonghuiError } from "@gonghui/client";
import { useSession } from "./stores/session";

const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

async function failure(answer: Response): Promise<GonghuiError> {
  const body = (await answer.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  return new GonghuiError(answer.status, body.error?.code ?? "http", body.error?.message ?? `HTTP ${answer.status}`);
}

/** POSTs `file` to `path` (under /api/v1) and answers the JSON report. */
export async function upload<T>(path: string, file: File): Promise<T> {
  const session = useSession();
  const answer = await fetch(`/api/v1${path}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${session.token}`,
      "content-type": file.name.toLowerCase().endsWith(".xlsx") ? XLSX : "text/csv",
    },
    body: file,
  });
  if (!answer.ok) throw await failure(answer);
  return (await answer.json()) as T;
}

/** Downloads `path` (under /api/v1) and saves it as `name`. */
export async function download(path: string, name: string): Promise<void> {
  const answer = await fetch(`/api/v1${path}`, { headers: { authorization: `Bearer ${useSession().token}` } });
  if (!answer.ok) throw await failure(answer);
  save(await answer.blob(), name);
}

/** Hands `blob` to the browser to save as `name`. */
export function save(blob: Blob, name: string): void {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
