/** Every failure the SDK reports: an HTTP error answer, a failed socket request, or a network failure (`status` 0). */
export class GonghuiError extends Error {
  /** The HTTP status (0 when no answer came). */
  readonly status: number;
  /** The stable machine-readable code: `invalid`, `forbidden`, `network`, … */
  readonly code: string;
  /** Per-field reasons of a 422 `invalid`, keyed by field name. */
  readonly fields?: Record<string, string>;
  /** Seconds to wait before trying again, from `Retry-After`. */
  readonly retryAfter?: number;

  constructor(
    status: number,
    code: string,
    message: string,
    extra: { fields?: Record<string, string>; retryAfter?: number } = {},
  ) {
    super(message);
    this.name = "GonghuiError";
    this.status = status;
    this.code = code;
    this.fields = extra.fields;
    this.retryAfter = extra.retryAfter;
  }
}
