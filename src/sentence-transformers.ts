// sentence-transformers folders (modules.json, 1_Pooling/config.json, 2_Normalize,
// sentence_bert_config.json, config_sentence_transformers.json): the pooling, normalisation,
// length limit and named prompts that SentenceTransformer.encode applies, read so they become the
// defaults of embed().
import { CheckpointError } from './errors';
import type { CheckpointSource } from './sources/types';

export type SentencePooling = 'cls' | 'mean';

export interface SentenceTransformersConfig {
  /** The Pooling module's mode. */
  pooling: SentencePooling;
  /** Whether modules.json lists a Normalize module (its folder may be absent, as on the Hub). */
  normalize: boolean;
  /** sentence_bert_config.json max_seq_length, when given. */
  maxSeqLength: number | null;
  /** Named prompts (e5: { query: 'query: ', passage: 'passage: ' }). */
  prompts: Record<string, string>;
  defaultPromptName: string | null;
}

interface Module {
  path: string;
  type: string;
}

/** Reads the folder's sentence-transformers modules; null when it has no modules.json. */
export async function readSentenceTransformers(
  source: CheckpointSource,
  where: (file: string) => string,
): Promise<SentenceTransformersConfig | null> {
  const modulesText = await source.readText('modules.json');
  if (modulesText === null) return null;
  const modules = parseJsonFile(modulesText, where('modules.json'));
  if (!Array.isArray(modules) || !modules.every((m) => typeof m?.type === 'string' && typeof (m?.path ?? '') === 'string')) {
    throw new CheckpointError(`${where('modules.json')}: expected a list of {"path", "type"} modules`);
  }
  const list = modules as Module[];
  const poolingModule = list.find((m) => m.type.endsWith('.Pooling'));
  let pooling: SentencePooling = 'mean'; // SentenceTransformer's default Pooling mode
  if (poolingModule) {
    const file = `${poolingModule.path.replace(/\/$/, '')}/config.json`;
    const text = await source.readText(file);
    if (text === null) throw new CheckpointError(`${where('modules.json')}: lists a Pooling module at ${poolingModule.path}, but ${where(file)} is missing`);
    pooling = poolingMode(parseJsonFile(text, where(file)), where(file));
  }
  const bertConfigText = await source.readText('sentence_bert_config.json');
  let maxSeqLength: number | null = null;
  if (bertConfigText !== null) {
    const value = (parseJsonFile(bertConfigText, where('sentence_bert_config.json')) as { max_seq_length?: unknown })?.max_seq_length;
    if (value !== undefined && value !== null) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
        throw new CheckpointError(`${where('sentence_bert_config.json')}: max_seq_length must be a positive integer, got ${JSON.stringify(value)}`);
      }
      maxSeqLength = value;
    }
  }
  const stText = await source.readText('config_sentence_transformers.json');
  const prompts: Record<string, string> = {};
  let defaultPromptName: string | null = null;
  if (stText !== null) {
    const file = where('config_sentence_transformers.json');
    const st = parseJsonFile(stText, file) as { prompts?: unknown; default_prompt_name?: unknown };
    if (st.prompts !== undefined && st.prompts !== null) {
      if (typeof st.prompts !== 'object' || Array.isArray(st.prompts)) throw new CheckpointError(`${file}: prompts must be an object of name -> text`);
      for (const [name, text] of Object.entries(st.prompts as Record<string, unknown>)) {
        if (typeof text !== 'string') throw new CheckpointError(`${file}: prompt ${JSON.stringify(name)} must be a string`);
        prompts[name] = text;
      }
    }
    if (typeof st.default_prompt_name === 'string') {
      if (!(st.default_prompt_name in prompts)) throw new CheckpointError(`${file}: default_prompt_name ${JSON.stringify(st.default_prompt_name)} is not one of its prompts`);
      defaultPromptName = st.default_prompt_name;
    }
  }
  return { pooling, normalize: list.some((m) => m.type.endsWith('.Normalize')), maxSeqLength, prompts, defaultPromptName };
}

function poolingMode(json: unknown, where: string): SentencePooling {
  const c = json as Record<string, unknown>;
  if (typeof c !== 'object' || c === null) throw new CheckpointError(`${where}: expected a JSON object`);
  const on = Object.entries(c)
    .filter(([key, value]) => key.startsWith('pooling_mode_') && value === true)
    .map(([key]) => key.slice('pooling_mode_'.length));
  if (on.length === 1 && on[0] === 'cls_token') return 'cls';
  if (on.length === 1 && on[0] === 'mean_tokens') return 'mean';
  throw new CheckpointError(
    `${where}: pooling ${on.length === 0 ? 'mode is not set' : on.join(' + ')} is not supported; this engine pools with cls_token or mean_tokens`,
  );
}

function parseJsonFile(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(`${where}: not valid JSON (${(error as Error).message})`);
  }
}
