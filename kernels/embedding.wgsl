// embedding: hidden[t, :] = table[ids[t], :]
// Layout:   ids u32 [tokens]; table f32 [vocab, HIDDEN] row-major (as stored); hidden f32 [tokens, HIDDEN].
// Dispatch: one workgroup per token, folded into 2D (x up to 65535) for long batches;
//           WG threads stride over HIDDEN/4 vec4 columns.
// Limits:   HIDDEN % 4 == 0; ids < vocab (checked on the host before upload: an id out of
//           range would read another row or zeros, never fail).
// Reference: embeddingRef in src/reference.ts.
override HIDDEN: u32;
override WG: u32 = 64u;

struct Params { tokens: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> hidden: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let token = wid.x + wid.y * nwg.x;
  if (token >= params.tokens) { return; }
  let quads = HIDDEN / 4u;
  let src = ids[token] * quads;
  let dst = token * quads;
  for (var c = lid; c < quads; c += WG) {
    hidden[dst + c] = table[src + c];
  }
}
