// GPU memory accounting for the bench: the sum of the sizes of every GPUBuffer reachable from an
// object (the model's weights, a forward plan's tensors and uniforms), found by walking its
// fields. Read-only; it needs no cooperation from the engine, so it survives refactors.

function isGPUBuffer(x: unknown): x is GPUBuffer {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as GPUBuffer).size === 'number' &&
    typeof (x as GPUBuffer).mapAsync === 'function' &&
    typeof (x as GPUBuffer).getMappedRange === 'function'
  );
}

/** Every distinct GPUBuffer reachable from `roots` through own fields, arrays, Maps and Sets. */
export function reachableBuffers(...roots: unknown[]): Set<GPUBuffer> {
  const found = new Set<GPUBuffer>();
  const seen = new Set<object>();
  const stack: unknown[] = [...roots];
  while (stack.length) {
    const x = stack.pop();
    if (typeof x !== 'object' || x === null || seen.has(x)) continue;
    seen.add(x);
    if (isGPUBuffer(x)) {
      found.add(x);
      continue;
    }
    if (ArrayBuffer.isView(x) || x instanceof ArrayBuffer || x instanceof Promise) continue;
    if (x instanceof Map) {
      for (const [k, v] of x) stack.push(k, v);
      continue;
    }
    if (x instanceof Set || Array.isArray(x)) {
      for (const v of x) stack.push(v);
      continue;
    }
    // Own fields only: WebGPU objects (device, pipelines) expose theirs as prototype getters.
    for (const key of Object.keys(x)) {
      if (key === 'device' || key === 'gpu' || key === 'instance') continue;
      stack.push((x as Record<string, unknown>)[key]);
    }
  }
  return found;
}

export function bufferBytes(buffers: Iterable<GPUBuffer>): number {
  let total = 0;
  for (const b of buffers) total += b.size;
  return total;
}
