// Where the API and the sockets are: this page's own node first, then the others that
// /console/config.json lists (GONGHUI_CONSOLE_NODES), so the console fails over to them;
// and where the map's tiles come from.
export interface Nodes {
  http: string[];
  ws: string[];
  /** The union map's tile URL template (GONGHUI_CONSOLE_MAP_TILES), if any. */
  mapTiles: string | null;
}

export async function loadNodes(): Promise<Nodes> {
  const own = window.location.origin;
  let config: { nodes?: string[]; map_tiles?: string | null } = {};
  try {
    const answer = await fetch("/console/config.json");
    if (answer.ok) config = await answer.json();
  } catch {
    // This node alone, no tiles.
  }
  const http = [own, ...(config.nodes ?? []).filter((n) => n !== own)];
  return { http, ws: http.map((base) => `${base.replace(/^http/, "ws")}/ws`), mapTiles: config.map_tiles ?? null };
}
