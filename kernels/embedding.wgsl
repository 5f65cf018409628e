// embedding: hidden[t, :] = table[ids[t], :] (+ typeTable[typeIds[t], :]) (+ posTable[positions[t], :])
//   NeoBERT: the word row only. BERT / RoBERTa / XLM-R (HAS_TYPE, HAS_POSITION): word + token
//   type + absolute position, added in that order as transformers does (embeddings =
//   inputs_embeds + token_type_embeddings; embeddings += position_embeddings), so the f32 sums
//   round the same way; the LayerNorm after it is kernels/layernorm.wgsl.
// Layout:   ids u32 [tokens]; table f32 [vocab, HIDDEN] row-major (as stored); hidden f32
//           [tokens, HIDDEN]. HAS_POSITION: positions u32 [tokens] = the row of posTable f32
//           [maxPositions, HIDDEN] (the host computes them, RoBERTa's padding_idx + 1 offset
//           included). HAS_TYPE: typeIds u32 [tokens], typeTable f32 [typeVocab, HIDDEN].
//           Bindings of a table that is not compiled in are unused (any buffer).
//           Row chunks: `table` may hold only rows [row_begin, row_end) of the vocabulary (a
//           table over the device's storage-binding limit, e.g. XLM-R's 250002 x 768, is uploaded
//           in chunks and gathered by one dispatch per chunk); tokens whose id falls outside the
//           chunk are left to the dispatch that holds their row.
// Dispatch: one workgroup per token, folded into 2D (x up to 65535) for long batches;
//           WG threads stride over HIDDEN/4 vec4 columns.
// Limits:   HIDDEN % 4 == 0; ids < vocab, positions < maxPositions, typeIds < typeVocab
//           (checked on the host before upload: an index out of range would read another row or
//           zeros, never fail).
// Reference: embeddingRef in src/reference.ts.
override HIDDEN: u32;
override WG: u32 = 64u;
override HAS_POSITION: bool = false;
override HAS_TYPE: bool = false;

struct Params { tokens: u32, row_begin: u32, row_end: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> hidden: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> positions: array<u32>;
@group(0) @binding(5) var<storage, read> posTable: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> typeIds: array<u32>;
@group(0) @binding(7) var<storage, read> typeTable: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let token = wid.x + wid.y * nwg.x;
  if (token >= params.tokens) { return; }
  let id = ids[token];
  if (id < params.row_begin || id >= params.row_end) { return; }
  let quads = HIDDEN / 4u;
  let src = (id - params.row_begin) * quads;
  let dst = token * quads;
  var typeSrc = 0u;
  var posSrc = 0u;
  if (HAS_TYPE) { typeSrc = typeIds[token] * quads; }
  if (HAS_POSITION) { posSrc = positions[token] * quads; }
  for (var c = lid; c < quads; c += WG) {
    var e = table[src + c];
    if (HAS_TYPE) { e += typeTable[typeSrc + c]; }
    if (HAS_POSITION) { e += posTable[posSrc + c]; }
    hidden[dst + c] = e;
  }
}
