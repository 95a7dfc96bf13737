import { GonghuiError } from "./errors.js";
import type { paths } from "./generated/openapi.js";

/** The HTTP methods the API uses. */
export type Method = "get" | "post" | "put" | "delete";

/** The paths that have an operation for `M`. */
export type PathsFor<M extends Method> = {
  [P in keyof paths]: paths[P] extends { [K in M]: unknown } ? P : never;
}[keyof paths];

type Operation<P extends keyof paths, M extends Method> = paths[P] extends { [K in M]: infer O } ? O : never;
type Json<C> = C extends { content: { "application/json": infer T } } ? T : undefined;
type Body<O> = O extends { requestBody?: infer R } ? Json<NonNullable<R>> : never;
type Success<O> = O extends { responses: infer R }
  ? 200 extends keyof R
    ? Json<R[200]>
    : 201 extends keyof R
      ? Json<R[201]>
      : undefined
  : never;

/** What a call takes: its path and query parameters and its JSON body, as the contract types them. */
export interface CallOptions<O> {
  params?: O extends { parameters: { path: infer P } } ? P : never;
  query?: O extends { parameters: { query?: infer Q } } ? Q : never;
  body?: Body<O>;
  /** The write's `Idempotency-Key`: made up by default, `false` for none. */
  idempotencyKey?: string | false;
}

/** The part of `fetch` the client needs, so a mini-program can pass `wx.request` instead ({@link wxRequestFetch}). */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; headers: { get(name: string): string | null }; text(): Promise<string> }>;

/** How to reach the API. */
export interface RestOptions {
  /** Base URLs of the nodes (`https://host`); a call that gets no answer tries the next. */
  urls: string[];
  /** The bearer token, if logged in. */
  token?: string;
  /** Called with the error when a call answers 401: log in again. */
  onUnauthorized?: (error: GonghuiError) => void;
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike;
  /** Tries a call that got no answer this many more times, with the same idempotency key (default 2). */
  retries?: number;
  /**
   * How long, in ms, to keep asking what became of a write whose first try may still be
   * running (a node answering 409 `in_progress` for its key, or 408 for a body it did not
   * get in full): the same call with the same key, every `Retry-After`, until its own
   * answer comes (default 120 000, the server's idempotency lease). Past it the call
   * fails with the code `outcome_unknown`.
   */
  settleWithinMs?: number;
}

/** Whether an answer says "ask again with the same key": the first try is still running, or the body never arrived. */
function unsettled(error: GonghuiError): boolean {
  return error.code === "in_progress" || error.status === 408;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function newKey(): string {
  const random = globalThis.crypto?.randomUUID?.();
  return random ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** A thin typed client of the REST API: paths, parameters, bodies and answers as the served OpenAPI document says. */
export class RestClient {
  private token?: string;
  private next = 0;
  private readonly fetch: FetchLike;

  constructor(private readonly options: RestOptions) {
    this.token = options.token;
    this.fetch = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
  }

  /** Uses `token` from now on (after a login), or none. */
  setToken(token: string | undefined): void {
    this.token = token;
  }

  get<P extends PathsFor<"get">>(path: P, options?: CallOptions<Operation<P, "get">>): Promise<Success<Operation<P, "get">>> {
    return this.call("GET", path, options ?? {});
  }

  post<P extends PathsFor<"post">>(path: P, options?: CallOptions<Operation<P, "post">>): Promise<Success<Operation<P, "post">>> {
    return this.call("POST", path, options ?? {});
  }

  put<P extends PathsFor<"put">>(path: P, options?: CallOptions<Operation<P, "put">>): Promise<Success<Operation<P, "put">>> {
    return this.call("PUT", path, options ?? {});
  }

  delete<P extends PathsFor<"delete">>(
    path: P,
    options?: CallOptions<Operation<P, "delete">>,
  ): Promise<Success<Operation<P, "delete">>> {
    return this.call("DELETE", path, options ?? {});
  }

  private async call<T>(method: string, path: string, options: CallOptions<unknown>): Promise<T> {
    const params = (options.params ?? {}) as Record<string, string | number>;
    let url = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(params[name])));
    const query = Object.entries((options.query ?? {}) as Record<string, unknown>).filter(([, v]) => v !== undefined);
    if (query.length) url += `?${new URLSearchParams(query.map(([k, v]) => [k, String(v)])).toString()}`;
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    if (method !== "GET" && options.idempotencyKey !== false) {
      headers["idempotency-key"] = options.idempotencyKey ?? newKey();
    }
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    // A keyed write (or a read) may be asked again: the key makes a second run a replay.
    const repeatable = method === "GET" || headers["idempotency-key"] !== undefined;
    const settleBy = Date.now() + (this.options.settleWithinMs ?? 120_000);
    for (;;) {
      try {
        return await this.send<T>(url, method, headers, body);
      } catch (error) {
        if (!(error instanceof GonghuiError) || !repeatable || !unsettled(error)) throw error;
        const wait = (error.retryAfter ?? 1) * 1000;
        if (Date.now() + wait > settleBy) {
          throw new GonghuiError(error.status, "outcome_unknown", "the call may or may not have been done: its first try did not finish in time", {
            retryAfter: error.retryAfter,
          });
        }
        await sleep(wait);
      }
    }
  }

  /** One call, moving to the next node while none answers. */
  private async send<T>(url: string, method: string, headers: Record<string, string>, body: string | undefined): Promise<T> {
    const tries = 1 + (this.options.retries ?? 2);
    let lastFailure: unknown;
    for (let attempt = 0; attempt < tries; attempt++) {
      const base = this.options.urls[this.next % this.options.urls.length];
      let answer;
      try {
        answer = await this.fetch(`${base}${url}`, { method, headers, body });
      } catch (failure) {
        lastFailure = failure;
        this.next++;
        continue;
      }
      return this.read<T>(answer);
    }
    throw new GonghuiError(0, "network", `no node answered: ${String(lastFailure)}`);
  }

  private async read<T>(answer: Awaited<ReturnType<FetchLike>>): Promise<T> {
    const text = await answer.text();
    if (answer.status >= 200 && answer.status < 300) {
      return (text ? JSON.parse(text) : undefined) as T;
    }
    let error: { code?: string; message?: string; fields?: Record<string, string> } = {};
    try {
      error = (JSON.parse(text) as { error?: typeof error }).error ?? {};
    } catch {
      // not our error shape (a proxy's page)
    }
    const retryAfter = Number(answer.headers.get("retry-after")) || undefined;
    const failure = new GonghuiError(answer.status, error.code ?? "http", error.message ?? `HTTP ${answer.status}`, {
      fields: error.fields,
      retryAfter,
    });
    if (answer.status === 401) this.options.onUnauthorized?.(failure);
    throw failure;
  }
}

/** The slice of a mini-program's `wx` (or uni-app's `uni`) that REST calls use. */
export interface RequestApi {
  request(options: {
    url: string;
    method: string;
    header: Record<string, string>;
    data?: string;
    dataType: string;
    responseType: string;
    success(res: { statusCode: number; header: Record<string, string>; data: unknown }): void;
    fail(err: { errMsg: string }): void;
  }): unknown;
}

/** `fetch` made of `wx.request` (or `uni.request`), for {@link RestOptions.fetch} in a mini-program. */
export function wxRequestFetch(api: RequestApi): FetchLike {
  return (url, init) =>
    new Promise((resolve, reject) => {
      api.request({
        url,
        method: init.method,
        header: init.headers,
        data: init.body,
        dataType: "text",
        responseType: "text",
        success: (res) => {
          const lower = Object.fromEntries(Object.entries(res.header ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
          resolve({
            status: res.statusCode,
            headers: { get: (name) => lower[name.toLowerCase()] ?? null },
            text: async () => (typeof res.data === "string" ? res.data : JSON.stringify(res.data)),
          });
        },
        fail: (err) => reject(new Error(err.errMsg)),
      });
    });
}
