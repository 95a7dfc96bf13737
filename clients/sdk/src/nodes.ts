/**
 * Where a web app served by gonghui finds the API and the sockets: the node that served the
 * page first, then the other nodes its `config.json` lists (GONGHUI_CONSOLE_NODES), so the
 * app fails over to them; and where its maps' tiles come from.
 */
export interface Nodes {
  http: string[];
  ws: string[];
  /** A map tile URL template (GONGHUI_CONSOLE_MAP_TILES), if any. */
  mapTiles: string | null;
}

/** Reads `configPath` (`/console/config.json`, `/h5/config.json`) of the page's node; that node alone if it cannot. */
export async function loadNodes(configPath: string, origin: string = globalThis.location.origin): Promise<Nodes> {
  let config: { nodes?: string[]; map_tiles?: string | null } = {};
  try {
    const answer = await fetch(`${origin}${configPath}`);
    if (answer.ok) config = await answer.json();
  } catch {
    // This node alone, no tiles.
  }
  const http = [origin, ...(config.nodes ?? []).filter((n) => n !== origin)];
  return { http, ws: http.map((base) => `${base.replace(/^http/, "ws")}/ws`), mapTiles: config.map_tiles ?? null };
}
