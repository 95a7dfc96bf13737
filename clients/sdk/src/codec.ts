/** A frame as the SDK reads and writes it. */
export type Frame = Record<string, unknown>;

/** How frames become WebSocket messages: JSON text or MessagePack binary. */
export interface Codec {
  /** The subprotocol that asks the server for this codec. */
  readonly protocol: string;
  encode(frame: Frame): string | Uint8Array;
  decode(data: string | ArrayBuffer | Uint8Array): Frame;
}

/** JSON text frames (`gonghui.v1.json`): no dependency, easy to read in devtools. */
export const jsonCodec: Codec = {
  protocol: "gonghui.v1.json",
  encode: (frame) => JSON.stringify(frame),
  decode: (data) => JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data)) as Frame,
};

/** MessagePack binary frames (`gonghui.v1.msgpack`), smaller and faster; loads `@msgpack/msgpack` only when asked for. */
export async function msgpackCodec(): Promise<Codec> {
  const { encode, decode } = await import("@msgpack/msgpack");
  return {
    protocol: "gonghui.v1.msgpack",
    encode: (frame) => encode(frame),
    decode: (data) => {
      if (typeof data === "string") throw new Error("a text frame on the MessagePack codec");
      return decode(data instanceof Uint8Array ? data : new Uint8Array(data)) as Frame;
    },
  };
}
