// Self-contained SVG chart of bench results: tokens/s against sequence length per engine (log
// scales, one panel per batch size), and matmul GFLOP/s per shape. Browser-safe renderChart();
// bench/chart-cli.ts turns result files into one SVG:
//   node scripts/build.mjs --run bench/chart-cli.ts OUT.svg RESULT.json [MORE.json ...]
import type { BenchResult } from './run/report';

const COLORS: Record<string, string> = {
  'neobert-webgpu/webgpu': '#1f5fbf',
  'onnxruntime-web/webgpu': '#e8710a',
  'onnxruntime-web/wasm': '#c9a227',
  'pytorch/cpu': '#2e9e44',
  'gpu.js/webgpu': '#8e44ad',
};
const FALLBACK = ['#c0392b', '#16a085', '#7f8c8d', '#d35400'];
const DASH: Record<string, string> = { browser: '7 4', node: '' };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function niceLogTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo / 1.001 && v <= hi * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

const short = (v: number) => (v >= 1e6 ? `${v / 1e6}M` : v >= 1e3 ? `${v / 1e3}k` : v >= 1 ? `${v}` : `${v}`);

interface Series {
  key: string;
  label: string;
  color: string;
  dash: string;
  points: { x: number; y: number }[];
}

export function renderChart(inputs: BenchResult[]): string {
  const W = 1000;
  const all = inputs.flatMap((r) => r.results.map((x) => ({ ...x, runtime: r.runtime })));
  const batches = [...new Set(all.map((x) => x.batch))].sort((a, b) => a - b);
  const seqs = [...new Set(all.map((x) => x.seq))].sort((a, b) => a - b);
  // Matmul panel: the model's layer shapes at one token count (1024, or the nearest below) and
  // the other shapes; every measured shape stays in the JSON.
  const allMatmul = inputs.flatMap((r) => r.matmul.map((m) => ({ ...m, runtime: r.runtime })));
  // Layer shapes are `<matmul>@<M>` (layerShapesFor, any architecture); the fixed extras are base.* and square@*.
  const layer = (name: string) => /^[\w]+@\d+$/.test(name) && !name.startsWith('square@');
  const counts = [...new Set(allMatmul.filter((m) => layer(m.shape)).map((m) => m.M))].sort((x, y) => x - y);
  const shownM = counts.filter((m) => m <= 1024).pop() ?? counts[0];
  const matmul = allMatmul.filter((m) => !layer(m.shape) || m.M === shownM);
  const panelW = batches.length > 1 ? (W - 60) / Math.min(batches.length, 3) : W - 60;
  const panelH = 300;
  const rowsOfPanels = Math.ceil(batches.length / 3) || 1;
  const legendTop = 70 + rowsOfPanels * (panelH + 70);
  const engineKeys = [...new Set(all.map((x) => `${x.engine}/${x.backend}|${x.runtime}|${x.device}`))];
  const legendH = 22 * engineKeys.length + 10;
  const matmulTop = legendTop + legendH + 30;
  const matmulH = matmul.length ? 260 : 0;
  const notes = inputs.flatMap((r) => targetLines(r));
  const variantCount = new Set(matmul.map((m) => `${m.engine}/${m.variant}|${m.runtime}`)).size;
  const H = matmulTop + matmulH + (matmul.length ? 70 + 20 * Math.ceil(variantCount / 4) : 0) + 18 * notes.length + 30;

  let colorIndex = 0;
  const colorOf = new Map<string, string>();
  const color = (k: string) => {
    if (!colorOf.has(k)) colorOf.set(k, COLORS[k] ?? FALLBACK[colorIndex++ % FALLBACK.length]);
    return colorOf.get(k)!;
  };

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  const adapters = [...new Set(inputs.map((r) => `${r.runtime}: ${r.adapter}`))];
  out.push(`<text x="20" y="28" font-size="18" font-weight="bold">NeoBERT forward throughput (tokens/s, higher is better)</text>`);
  out.push(`<text x="20" y="48" fill="#444">${esc(`${String(inputs[0]?.model.label ?? '')} · ${inputs.map((r) => r.date.slice(0, 10)).filter((v, i, a) => a.indexOf(v) === i).join(', ')} · ${adapters.join(' | ')}`)}</text>`);

  const yVals = all.map((x) => x.tokensPerSecond).filter((v) => v > 0);
  const yLo = 10 ** Math.floor(Math.log10(Math.min(...yVals)));
  const yHi = 10 ** Math.ceil(Math.log10(Math.max(...yVals)));
  const xLo = Math.min(...seqs);
  const xHi = Math.max(...seqs);

  batches.forEach((batch, bi) => {
    const px = 60 + (bi % 3) * panelW;
    const py = 70 + Math.floor(bi / 3) * (panelH + 70);
    const w = panelW - 40;
    const h = panelH;
    const sx = (v: number) => (xHi === xLo ? px + w / 2 : px + ((Math.log2(v) - Math.log2(xLo)) / (Math.log2(xHi) - Math.log2(xLo))) * w);
    const sy = (v: number) => py + h - ((Math.log10(v) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo))) * h;
    out.push(`<rect x="${px}" y="${py}" width="${w}" height="${h}" fill="#fafafa" stroke="#bbb"/>`);
    out.push(`<text x="${px + w / 2}" y="${py - 8}" text-anchor="middle" font-weight="bold">batch ${batch}</text>`);
    for (const t of niceLogTicks(yLo, yHi)) {
      out.push(`<line x1="${px}" x2="${px + w}" y1="${sy(t)}" y2="${sy(t)}" stroke="${String(t).startsWith('1') ? '#ddd' : '#eee'}"/>`);
      if (bi % 3 === 0 || String(t).startsWith('1')) out.push(`<text x="${px - 6}" y="${sy(t) + 4}" text-anchor="end" fill="#555">${short(t)}</text>`);
    }
    for (const s of seqs) {
      out.push(`<line x1="${sx(s)}" x2="${sx(s)}" y1="${py}" y2="${py + h}" stroke="#eee"/>`);
      out.push(`<text x="${sx(s)}" y="${py + h + 16}" text-anchor="middle" fill="#555">${s}</text>`);
    }
    out.push(`<text x="${px + w / 2}" y="${py + h + 34}" text-anchor="middle" fill="#333">sequence length (tokens)</text>`);
    if (bi % 3 === 0) out.push(`<text transform="translate(${px - 46},${py + h / 2}) rotate(-90)" text-anchor="middle" fill="#333">tokens / s</text>`);
    const series: Series[] = engineKeys.map((k) => {
      const [engine, runtime, device] = k.split('|');
      return {
        key: k,
        label: engine,
        color: color(engine),
        dash: DASH[runtime] ?? '',
        points: all
          .filter((x) => `${x.engine}/${x.backend}` === engine && x.runtime === runtime && x.device === device && x.batch === batch)
          .sort((a, b) => a.seq - b.seq)
          .map((x) => ({ x: x.seq, y: x.tokensPerSecond })),
      };
    });
    for (const s of series) {
      if (s.points.length === 0) continue;
      const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2.5" ${s.dash ? `stroke-dasharray="${s.dash}"` : ''}/>`);
      for (const p of s.points) out.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="4" fill="${s.color}"><title>${esc(`${s.label} seq ${p.x} batch ${batch}: ${p.y.toFixed(0)} tokens/s`)}</title></circle>`);
    }
  });

  // Legend: engine, runtime, device.
  if (new Set(inputs.map((r) => r.runtime)).size > 1) {
    out.push(`<text x="${W - 20}" y="${legendTop - 18}" text-anchor="end" fill="#555">solid: Node (Dawn) · dashed: browser (Chromium)</text>`);
  }
  engineKeys.forEach((k, i) => {
    const [engine, runtime, device] = k.split('|');
    const y = legendTop + 22 * i;
    const dash = DASH[runtime] ?? '';
    out.push(`<line x1="60" x2="95" y1="${y}" y2="${y}" stroke="${color(engine)}" stroke-width="3" ${dash ? `stroke-dasharray="${dash}"` : ''}/>`);
    out.push(`<circle cx="77" cy="${y}" r="4" fill="${color(engine)}"/>`);
    const matmulOnly = all.some((x) => `${x.engine}/${x.backend}` === engine && x.runtime === runtime && String((x as { kind?: unknown }).kind ?? '').startsWith('matmul-only'));
    const where = device.length > 80 ? `${device.slice(0, 77)}...` : device;
    out.push(`<text x="105" y="${y + 4}"><tspan font-weight="bold">${esc(engine)}</tspan> (${esc(runtime)}) on ${esc(where)}${matmulOnly ? ' <tspan fill="#8e44ad">[matmuls only: no attention, norms, readback]</tspan>' : ''}</text>`);
  });

  if (matmul.length) {
    const shapes = [...new Set(matmul.map((m) => `${m.shape}|${m.M}x${m.N}x${m.K}`))];
    const variants = [...new Set(matmul.map((m) => `${m.engine}/${m.variant}|${m.runtime}`))];
    const px = 60;
    const py = matmulTop + 20;
    const w = W - 100;
    const h = matmulH - 40;
    const maxG = Math.max(...matmul.map((m) => m.gflops));
    const yTop = niceCeil(maxG);
    out.push(`<text x="20" y="${matmulTop}" font-size="16" font-weight="bold">Matmul alone, y = x W^T (GFLOP/s, higher is better)</text>`);
    out.push(`<rect x="${px}" y="${py}" width="${w}" height="${h}" fill="#fafafa" stroke="#bbb"/>`);
    for (let i = 0; i <= 4; i++) {
      const v = (yTop * i) / 4;
      const y = py + h - (v / yTop) * h;
      out.push(`<line x1="${px}" x2="${px + w}" y1="${y}" y2="${y}" stroke="#e5e5e5"/><text x="${px - 6}" y="${y + 4}" text-anchor="end" fill="#555">${+v.toPrecision(3)}</text>`);
    }
    const groupW = w / shapes.length;
    const barW = Math.min(40, (groupW - 20) / variants.length);
    shapes.forEach((sh, si) => {
      const [name, dims] = sh.split('|');
      const gx = px + si * groupW + (groupW - barW * variants.length) / 2;
      variants.forEach((v, vi) => {
        const [ev, runtime] = v.split('|');
        const m = matmul.find((x) => `${x.shape}|${x.M}x${x.N}x${x.K}` === sh && `${x.engine}/${x.variant}` === ev && x.runtime === runtime);
        if (!m) return;
        const bh = (m.gflops / yTop) * h;
        const engine = ev.startsWith('gpu.js') ? 'gpu.js/webgpu' : 'neobert-webgpu/webgpu';
        const opacity = ev.includes('tiled') ? 0.55 : 1;
        out.push(`<rect x="${gx + vi * barW}" y="${py + h - bh}" width="${barW - 3}" height="${bh}" fill="${color(engine)}" fill-opacity="${opacity}" ${runtime === 'browser' ? 'stroke="#000" stroke-dasharray="3 2"' : ''}><title>${esc(`${ev} (${runtime}) ${name} ${dims}: ${m.gflops.toFixed(3)} GFLOP/s`)}</title></rect>`);
        out.push(`<text x="${gx + vi * barW + (barW - 3) / 2}" y="${py + h - bh - 4}" text-anchor="middle" font-size="10" fill="#333">${m.gflops.toFixed(m.gflops < 1 ? 2 : 1)}</text>`);
      });
      out.push(`<text x="${px + si * groupW + groupW / 2}" y="${py + h + 16}" text-anchor="middle" fill="#333">${esc(name)}</text>`);
      out.push(`<text x="${px + si * groupW + groupW / 2}" y="${py + h + 30}" text-anchor="middle" fill="#777" font-size="11">${esc(dims)}</text>`);
    });
    variants.forEach((v, vi) => {
      const [ev, runtime] = v.split('|');
      const engine = ev.startsWith('gpu.js') ? 'gpu.js/webgpu' : 'neobert-webgpu/webgpu';
      const x = px + (vi % 4) * 230;
      const y = py + h + 52 + 20 * Math.floor(vi / 4);
      out.push(`<rect x="${x}" y="${y - 10}" width="14" height="12" fill="${color(engine)}" fill-opacity="${ev.includes('tiled') ? 0.55 : 1}" ${runtime === 'browser' ? 'stroke="#000" stroke-dasharray="3 2"' : ''}/>`);
      out.push(`<text x="${x + 20}" y="${y}">${esc(`${ev.replace('neobert-webgpu', 'ours')} (${runtime})`)}</text>`);
    });
  }

  const notesTop = H - 18 * notes.length - 14;
  notes.forEach((n, i) => out.push(`<text x="20" y="${notesTop + 18 * i}" fill="#222">${esc(n)}</text>`));
  out.push('</svg>');
  return out.join('\n');
}

function niceCeil(v: number): number {
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

function targetLines(r: BenchResult): string[] {
  const lines: string[] = [];
  for (const t of r.targets.vsOrtWebgpu) {
    lines.push(
      `[${r.runtime}] ours / onnxruntime-web WebGPU at seq ${t.seq}, batch ${t.batch}: ` +
        (t.ratio !== undefined ? `${t.ratio.toFixed(2)}x` : `n/a (${t.why})`),
    );
  }
  if (r.targets.matmulFractionGeomean !== undefined) {
    lines.push(`[${r.runtime}] our matmul vs the best WebGPU matmul on the same adapter (geometric mean over shapes): ${(r.targets.matmulFractionGeomean * 100).toFixed(0)}%`);
  }
  return lines;
}
