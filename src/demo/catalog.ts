// Real checkpoints on the Hugging Face Hub that the demo offers by id, with the size of their
// model.safetensors (what a first visit downloads; Cache Storage keeps it for the next).

export interface HubModel {
  /** Hub model id, resolved to https://huggingface.co/<id>/resolve/main/. */
  id: string;
  /** Download size of model.safetensors. */
  size: string;
  /** One line on what it is. */
  note: string;
  /**
   * Prompts the model was trained with, added by the page when the folder does not name them
   * itself (config_sentence_transformers.json).
   */
  prompts?: { query: string; passage: string };
}

/** Embedding models for semantic search and the heatmap. */
export const EMBEDDERS: HubModel[] = [
  { id: 'sentence-transformers/all-MiniLM-L6-v2', size: '90.9 MB', note: 'BERT, the classic small sentence embedder' },
  { id: 'BAAI/bge-small-en-v1.5', size: '133 MB', note: 'BERT, strong small English embedder' },
  {
    id: 'intfloat/e5-small-v2',
    size: '133 MB',
    note: 'BERT, trained with "query: " and "passage: " prompts (the page adds them)',
    prompts: { query: 'query: ', passage: 'passage: ' },
  },
  { id: 'sentence-transformers/all-mpnet-base-v2', size: '438 MB', note: 'MPNet (relative position bias), the best-known sentence embedder after MiniLM' },
  { id: 'chandar-lab/NeoBERT', size: '981 MB', note: 'the real NeoBERT, with its MLM head for fill in the blank' },
  {
    id: 'nomic-ai/nomic-embed-text-v1.5',
    size: '≈ 547 MB',
    note: 'NomicBERT (rotary, SwiGLU), 8192 tokens; "search_query: " / "search_document: " prompts (the folder names them; else the page adds them)',
    prompts: { query: 'search_query: ', passage: 'search_document: ' },
  },
  { id: 'Alibaba-NLP/gte-base-en-v1.5', size: '≈ 547 MB', note: 'GTE v1.5 (rotary with NTK scaling, GeGLU), CLS pooling, 8192 tokens' },
];

/** Cross-encoders for the rerank panel. */
export const RERANKERS: HubModel[] = [
  { id: 'cross-encoder/ms-marco-MiniLM-L-6-v2', size: '90.9 MB', note: 'BERT, trained on MS MARCO search queries' },
  { id: 'BAAI/bge-reranker-base', size: '1.11 GB', note: 'XLM-RoBERTa, English and Chinese' },
  { id: 'Alibaba-NLP/gte-multilingual-reranker-base', size: '≈ 612 MB', note: 'GTE multilingual (rotary, 8192 tokens), over 70 languages' },
];

/** Sequence classifiers for the guardrail panel (any *ForSequenceClassification checkpoint; pick its block labels). */
export const CLASSIFIERS: HubModel[] = [
  { id: 'distilbert/distilbert-base-uncased-finetuned-sst-2-english', size: '268 MB', note: 'DistilBERT, the classic SST-2 sentiment classifier (NEGATIVE / POSITIVE)' },
];

/** Sequence classifiers for the guardrail panel: the prompt-injection detectors deployed in production. */
export const GUARDRAILS: HubModel[] = [
  { id: 'protectai/deberta-v3-base-prompt-injection-v2', size: '738 MB', note: 'DeBERTa-v3, SAFE / INJECTION (English)' },
  { id: 'meta-llama/Prompt-Guard-86M', size: '1.11 GB', note: 'mDeBERTa-v3 (251k vocabulary), BENIGN / INJECTION / JAILBREAK; gated: accept its license on the Hub first' },
];

/** The catalog entry of a Hub id, if the page knows it. */
export const known = (id: string): HubModel | undefined => [...EMBEDDERS, ...RERANKERS, ...GUARDRAILS, ...CLASSIFIERS].find((m) => m.id === id);
