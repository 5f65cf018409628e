// The architectures this engine runs, chosen by config.json `model_type` (or, when a config has
// none, by its `architectures` class names), unless an architecture claims the config by its
// other fields first (jina-XLM-RoBERTa: an XLM-R config with position_embedding_type "rotary").
// Nothing outside src/models/ knows any of them.
import { ConfigReader } from '../config';
import { CheckpointError } from '../errors';
import { bert } from './bert';
import { distilbert } from './distilbert';
import { electra } from './electra';
import { jinaXlmRoberta } from './jina-xlm-roberta';
import { gte } from './gte';
import { modernbert } from './modernbert';
import { mpnet } from './mpnet';
import { debertaV2 } from './deberta-v2';
import { neobert } from './neobert';
import { nomicBert } from './nomic-bert';
import type { Architecture, EncoderConfig } from './types';

/** Every architecture file, in the order its name appears in messages. */
export const ARCHITECTURES: readonly Architecture<any, any>[] = [neobert, bert, modernbert, distilbert, electra, jinaXlmRoberta, nomicBert, gte, mpnet, debertaV2]; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Every supported config.json model_type. */
export function supportedModelTypes(): string[] {
  return ARCHITECTURES.flatMap((a) => [...a.modelTypes]);
}

// Class-name prefixes of configs written without model_type (older exports).
const CLASS_PREFIXES: [RegExp, string][] = [
  [/^NeoBERT/, 'neobert'],
  [/^XLMRoberta/, 'xlm-roberta'],
  [/^Roberta/, 'roberta'],
  [/^ModernBert/, 'modernbert'],
  [/^MPNet/, 'mpnet'],
  [/^DebertaV2/, 'deberta-v2'],
  [/^Bert/, 'bert'],
  [/^DistilBert/, 'distilbert'],
  [/^Electra/, 'electra'],
  [/^NomicBert/, 'nomic_bert'],
  [/^New(Model|For)/, 'new'], // GTE v1.5 / multilingual (Alibaba-NLP/new-impl)
];

/** The architecture that runs a parsed config.json. */
export function architectureFor(json: unknown, where: string): Architecture<any, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = new ConfigReader(json, where);
  const claimed = ARCHITECTURES.find((a) => a.claims?.(r.fields));
  if (claimed) return claimed;
  let modelType = r.fields['model_type'];
  if (modelType === undefined) {
    const names = r.architectures();
    modelType = CLASS_PREFIXES.find(([re]) => names.some((n) => re.test(n)))?.[1];
    // Early NeoBERT exports named neither; they are what this engine began with.
    if (modelType === undefined && names.length === 0) modelType = 'neobert';
  }
  const architecture = ARCHITECTURES.find((a) => a.modelTypes.includes(modelType as string));
  if (!architecture) {
    const what = modelType === undefined ? `has no model_type (architectures ${JSON.stringify(r.fields['architectures'])})` : `model_type is ${JSON.stringify(modelType)}`;
    throw new CheckpointError(`${where}: ${what}, which this engine does not run; supported model_type values: ${supportedModelTypes().join(', ')}`);
  }
  return architecture;
}

/** The architecture of a parsed config (its `modelType`), for code that holds only the config (the bench). */
export function architectureOfConfig(config: EncoderConfig): Architecture<any, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const architecture = ARCHITECTURES.find((a) => a.modelTypes.includes(config.modelType));
  if (!architecture) throw new CheckpointError(`model_type ${JSON.stringify(config.modelType)} has no architecture file; supported: ${supportedModelTypes().join(', ')}`);
  return architecture;
}

/** config.json parsed by the architecture its model_type names. */
export function parseConfig(json: unknown, where: string): EncoderConfig {
  return architectureFor(json, where).parseConfig(json as Record<string, unknown>, where);
}

export type { Architecture, BatchLayout, EncoderConfig, HostInput, LayerMatmul, EncoderModel, ForwardPlan, HeadKind, ModelDtype, ModelOptions, PlanOptions } from './types';
