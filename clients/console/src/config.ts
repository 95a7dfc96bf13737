// Where the API and the sockets are: this page's own node first, then the others that
// /console/config.json lists (GONGHUI_CONSOLE_NODES), so the console fails over to them.
export interface Nodes {
  http: string[];
  ws: string[];
}

export async function loadNodes(): Promise<Nodes> {
  const own = window.location.origin;
  let others: string[] = [];
  try {
    const answer = await fetch("/console/config.json");
    if (answer.ok) others = ((await answer.json()) as { nodes?: string[] }).nodes ?? [];
  } catch {
    // This node alone.
  }
  const http = [own, ...others.filter((n) => n !== own)];
  return { http, ws: http.map((base) => `${base.replace(/^http/, "ws")}/ws`) };
}
