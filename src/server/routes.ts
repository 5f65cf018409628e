// The routes of `neobert serve`: text-embeddings-inference's (/embed, /rerank, /predict,
// /tokenize, /info, /health, /metrics) and OpenAI's POST /v1/embeddings, with TEI's request and
// answer shapes. Each handler checks its body (schemas.ts), tokenizes it (model-host.ts) and
// queues its rows on the batcher; a route the model cannot serve is a 424, as in TEI.
import { sigmoid, softmaxInPlace } from '../api/postprocess';
import type { Batcher } from './batcher';
import { unsupported, validation } from './http-error';
import type { Metrics } from './metrics';
import type { ModelHost, Rows } from './model-host';
import { parseEmbed, parseOpenAIEmbeddings, parsePredict, parseRerank, parseTokenize, type Limits } from './schemas';

export interface ServeLimits extends Limits {
  maxBatchTokens: number;
  maxBatchRequests: number | null;
  maxConcurrentRequests: number;
  payloadLimit: number;
}

export interface RouteContext {
  host: ModelHost;
  batcher: Batcher;
  metrics: Metrics;
  limits: ServeLimits;
  modelId: string;
  dtype: 'f32' | 'f16';
  /** Registers what to do when the client goes away before its answer (cancel its rows). */
  onAbort(cancel: () => void): void;
}

export interface Answer {
  status?: number;
  json?: unknown;
  text?: string;
  contentType?: string;
}

export type Handler = (ctx: RouteContext, body: unknown) => Promise<Answer> | Answer;

/** Queues rows on the batcher; a disconnect of the client cancels them. */
function run(ctx: RouteContext, rows: Rows, output: string, width: number): Promise<Float32Array> {
  const submission = ctx.batcher.submit(rows.ids, rows.typeIds, output, width);
  ctx.onAbort(submission.cancel);
  return submission.result;
}

function requireKind(ctx: RouteContext, kinds: string[], message: string): void {
  if (!kinds.includes(ctx.host.kind)) throw unsupported(message);
}

/** Embedding rows for /embed and /v1/embeddings: pooled as the model's folder says, `dimensions` cut then re-normalised. */
async function embeddings(ctx: RouteContext, request: { inputs: (string | number[])[]; truncate: boolean; direction: 'left' | 'right'; dimensions: number | null }, normalize: boolean, promptName: string | null) {
  requireKind(ctx, ['embedding'], 'model is not an embedding model');
  const model = ctx.host.model;
  const C = model.config.hiddenSize;
  if (request.dimensions !== null && request.dimensions > C) throw validation(`\`dimensions\` must be at most ${C} (the model's embedding size), got ${request.dimensions}`);
  const { pooling } = model.embeddingDefaults();
  if (pooling !== 'cls' && pooling !== 'mean') throw unsupported(`pooling ${JSON.stringify(pooling)} is not served`);
  const prompt = request.inputs.some((x) => typeof x === 'string') ? ctx.host.prompt(promptName) : '';
  const rows = ctx.host.embedRows(request.inputs, request, prompt);
  const dims = request.dimensions ?? C;
  const onDevice = normalize && dims === C; // else cut on the host, then normalise what is left
  const output = `${pooling === 'cls' ? 'pooledCls' : 'pooledMean'}${onDevice ? 'Normalized' : ''}`;
  const out = await run(ctx, rows, output, C);
  const vectors = rows.ids.map((_, i) => {
    const v = out.slice(i * C, i * C + dims);
    if (normalize && !onDevice) {
      let sum = 0;
      for (const x of v) sum += x * x;
      const scale = 1 / Math.max(Math.sqrt(sum), 1e-12);
      for (let j = 0; j < v.length; j++) v[j] *= scale;
    }
    return v;
  });
  return { vectors, tokens: rows.tokens };
}

function scores(logits: Float32Array, row: number, n: number, raw: boolean): number[] {
  const values = Float64Array.from(logits.subarray(row * n, (row + 1) * n));
  if (raw) return Array.from(values);
  if (n === 1) return [sigmoid(values[0])];
  softmaxInPlace(values);
  return Array.from(values);
}

export const routes: Record<string, Record<string, Handler>> = {
  '/embed': {
    POST: async (ctx, body) => {
      const request = parseEmbed(body, ctx.limits);
      const { vectors } = await embeddings(ctx, request, request.normalize, request.promptName);
      return { json: vectors.map((v) => Array.from(v)) };
    },
  },
  '/v1/embeddings': {
    POST: async (ctx, body) => {
      const request = parseOpenAIEmbeddings(body, ctx.limits);
      const { vectors, tokens } = await embeddings(ctx, request, true, null);
      const data = vectors.map((v, index) => ({
        object: 'embedding',
        embedding: request.encodingFormat === 'base64' ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v),
        index,
      }));
      return { json: { object: 'list', data, model: ctx.modelId, usage: { prompt_tokens: tokens, total_tokens: tokens } } };
    },
  },
  '/rerank': {
    POST: async (ctx, body) => {
      const request = parseRerank(body, ctx.limits);
      requireKind(ctx, ['reranker'], 'model is not a re-ranker model');
      const rows = ctx.host.pairRows(
        request.texts.map((t) => [request.query, t]),
        request,
      );
      const logits = await run(ctx, rows, 'logits', 1);
      const ranks = request.texts.map((text, index) => ({ index, ...(request.returnText ? { text } : {}), score: scores(logits, index, 1, request.rawScores)[0] }));
      return { json: ranks.sort((a, b) => b.score - a.score || a.index - b.index) };
    },
  },
  '/predict': {
    POST: async (ctx, body) => {
      const request = parsePredict(body, ctx.limits);
      requireKind(ctx, ['classifier', 'reranker'], 'model is not a classifier model');
      const labels = ctx.host.model.labels!;
      const rows = ctx.host.pairRows(request.inputs, request);
      const logits = await run(ctx, rows, 'logits', labels.length);
      const predictions = request.inputs.map((_, i) =>
        scores(logits, i, labels.length, request.rawScores)
          .map((score, id) => ({ score, label: labels[id] }))
          .sort((a, b) => b.score - a.score),
      );
      return { json: request.single ? predictions[0] : predictions };
    },
  },
  '/tokenize': {
    POST: (ctx, body) => {
      const request = parseTokenize(body, ctx.limits);
      const prompt = ctx.host.prompt(request.promptName);
      const tokenizer = ctx.host.tokenizer;
      return {
        json: request.inputs.map((text) => {
          const { ids, special } = ctx.host.tokenize(prompt + text, request.addSpecialTokens);
          return ids.map((id, i) => ({ id, text: tokenizer.idToToken(id) ?? '', special: special[i], start: null, stop: null }));
        }),
      };
    },
  },
  '/info': {
    GET: (ctx) => {
      const model = ctx.host.model;
      const kind = ctx.host.kind;
      const labels = model.labels;
      const classifier = labels && { id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])), label2id: Object.fromEntries(labels.map((l, i) => [l, i])) };
      const { limits } = ctx;
      return {
        json: {
          model_id: ctx.modelId,
          model_sha: null,
          model_dtype: ctx.dtype === 'f16' ? 'float16' : 'float32',
          model_type: kind === 'embedding' ? { embedding: { pooling: model.embeddingDefaults().pooling } } : { [kind]: classifier },
          max_concurrent_requests: limits.maxConcurrentRequests,
          max_input_length: ctx.host.maxInputLength,
          max_batch_tokens: limits.maxBatchTokens,
          max_batch_requests: limits.maxBatchRequests,
          max_client_batch_size: limits.maxClientBatchSize,
          auto_truncate: limits.autoTruncate,
          tokenization_workers: 1,
          payload_limit: limits.payloadLimit,
          version: '0.1.0',
          sha: null,
          docker_label: null,
          architecture: model.checkpoint.architecture.name,
          adapter: model.gpu.adapter.description || `${model.gpu.adapter.vendor} ${model.gpu.adapter.architecture}`.trim(),
          adapter_slug: model.gpu.adapter.slug,
        },
      };
    },
  },
};
