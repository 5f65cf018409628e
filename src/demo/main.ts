// Demo page. Each panel holds its model in its own Web Worker (EncoderWorker), so the page stays
// responsive while kernels compile and batches run, and loading a cross-encoder or a guardrail
// classifier leaves the embedder loaded:
//   embedder.ts   the bundled checkpoint (loaded at once), Hub embedders or picked files; semantic
//                 search, similarity heatmap, fill-mask, classify
//   rerank.ts     a cross-encoder ranking documents for a query
//   guardrail.ts  a sequence classifier deciding allow / block per query
import { BUNDLED_MODEL } from '../index';
import { BUNDLED_NAME, embedder, initEmbedder } from './embedder';
import { guardrail, initGuardrail } from './guardrail';
import { initRerank, reranker } from './rerank';
import { $ } from './ui';

function noWebGPU(detail?: string): void {
  const ua = navigator.userAgent;
  const isFirefox = /firefox/i.test(ua);
  const isSafari = /safari/i.test(ua) && !/chrome|chromium|android/i.test(ua);
  $('no-webgpu-text').textContent =
    'This browser does not offer WebGPU, which the demo needs to run the model on your graphics card. ' +
    'Open this page in Chrome or Edge 113 or newer (Windows, macOS, ChromeOS; on Linux and Android Chrome 121+ ' +
    'with a supported GPU), or Safari 26 on macOS and iOS' +
    (isFirefox ? '; Firefox has WebGPU from version 141 on Windows, elsewhere behind a setting.' : isSafari ? '; older Safari versions need "WebGPU" turned on under Develop → Feature Flags.' : '.');
  if (detail) $('no-webgpu-text').textContent += ` (${detail})`;
  $('no-webgpu').hidden = false;
  embedder.setStatus('WebGPU is not available.');
  for (const panel of [embedder, reranker, guardrail]) {
    panel.disableAll();
    panel.setState('no-webgpu');
  }
}

function main(): void {
  initEmbedder();
  initRerank();
  initGuardrail();
  for (const panel of [embedder, reranker, guardrail]) {
    panel.hooks.onError = (e) => {
      if (e.name === 'GPUUnavailableError') noWebGPU(e.message);
    };
  }
  if (!('gpu' in navigator) || !navigator.gpu) {
    noWebGPU();
    return;
  }
  void embedder.load(BUNDLED_MODEL, BUNDLED_NAME);
}

main();
