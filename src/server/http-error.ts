// Errors the server answers with, in text-embeddings-inference's shape: a status code and a JSON
// body {"error": "...", "error_type": "..."} (TEI's ErrorType, lowercase). On the OpenAI route
// the same error is written as TEI writes it there: {"message", "code", "type"}.

export type ErrorType =
  | 'validation' // 422 (a field is wrong, a text over the token limit), 413 (over a batch or payload limit)
  | 'tokenizer' // 422: the text could not be tokenized
  | 'empty' // 400: an empty batch
  | 'backend' // 424: the model cannot serve this route
  | 'overloaded' // 429: the queue is full
  | 'unhealthy' // 503: the device was lost; the model is being reloaded
  | 'unauthorized' // 401: --api-key is set and the request does not carry it
  | 'not_found' // 404, 405: no such route / method
  | 'internal'; // 500: a bug (never expected; counted in the metrics)

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorType: ErrorType,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const validation = (message: string) => new HttpError(422, 'validation', message);
export const tooLarge = (message: string) => new HttpError(413, 'validation', message);
export const empty = (message: string) => new HttpError(400, 'empty', message);
export const unsupported = (message: string) => new HttpError(424, 'backend', message);
export const overloaded = () => new HttpError(429, 'overloaded', 'Model is overloaded: the queue is full (--max-concurrent-requests); retry later');
export const unhealthy = (message = 'unhealthy') => new HttpError(503, 'unhealthy', message);
