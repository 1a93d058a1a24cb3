// The latency-versus-concurrency chart (SVG, no dependencies): p50 and p99 of
// every system at each concurrency, one panel per percentile, log scale.
import type { ClosedLoopResult } from './results.ts';
import { SYSTEM_LABELS, SYSTEM_NAMES } from './systems.ts';

const COLORS: Record<string, string> = {
  direct: '#7f7f7f',
  envoy: '#1f77b4',
  gateway: '#d62728',
  litellm: '#2ca02c',
  portkey: '#9467bd',
};

const PANEL = { width: 360, height: 260, left: 56, top: 40, right: 16, bottom: 44 };

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let exp = Math.floor(Math.log10(min)); exp <= Math.ceil(Math.log10(max)); exp++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** exp;
      if (v >= min && v <= max) ticks.push(v);
    }
  }
  return ticks;
}

export function latencyChart(results: readonly ClosedLoopResult[], title: string): string {
  const concurrencies = [...new Set(results.map((r) => r.concurrency))].sort((a, b) => a - b);
  const systems = SYSTEM_NAMES.filter((name) => results.some((r) => r.system === name));
  const panels = [
    { key: 'p50' as const, label: 'p50 latency (ms, log scale)' },
    { key: 'p99' as const, label: 'p99 latency (ms, log scale)' },
  ];
  const values = results.flatMap((r) => [r.latency.p50, r.latency.p99]).filter((v) => v > 0);
  const min = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const max = 10 ** Math.ceil(Math.log10(Math.max(...values)));
  const legendHeight = 20 * systems.length + 10;
  const width = PANEL.width * panels.length;
  const height = PANEL.height + legendHeight + 30;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  panels.forEach((panel, index) => {
    const x0 = index * PANEL.width + PANEL.left;
    const plotWidth = PANEL.width - PANEL.left - PANEL.right;
    const plotHeight = PANEL.height - PANEL.top - PANEL.bottom;
    const y0 = PANEL.top;
    const xOf = (i: number) =>
      x0 + (concurrencies.length === 1 ? plotWidth / 2 : (i * plotWidth) / (concurrencies.length - 1));
    const yOf = (v: number) =>
      y0 +
      plotHeight -
      ((Math.log10(v) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))) * plotHeight;
    out.push(
      `<rect x="${x0}" y="${y0}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#ccc"/>`,
    );
    for (const tick of niceTicks(min, max)) {
      const y = yOf(tick).toFixed(1);
      out.push(`<line x1="${x0}" x2="${x0 + plotWidth}" y1="${y}" y2="${y}" stroke="#eee"/>`);
      out.push(`<text x="${x0 - 4}" y="${y}" text-anchor="end" dominant-baseline="middle">${tick}</text>`);
    }
    concurrencies.forEach((c, i) => {
      out.push(`<text x="${xOf(i)}" y="${y0 + plotHeight + 14}" text-anchor="middle">${c}</text>`);
    });
    out.push(
      `<text x="${x0 + plotWidth / 2}" y="${y0 + plotHeight + 30}" text-anchor="middle">concurrency (connections)</text>`,
      `<text x="${x0 + plotWidth / 2}" y="${y0 - 8}" text-anchor="middle">${escapeXml(panel.label)}</text>`,
    );
    for (const system of systems) {
      const points = concurrencies
        .map((c, i) => {
          const r = results.find((x) => x.system === system && x.concurrency === c);
          return r === undefined ? undefined : { x: xOf(i), y: yOf(r.latency[panel.key]) };
        })
        .filter((p) => p !== undefined);
      const color = COLORS[system] ?? '#000';
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ')}"/>`,
      );
      for (const p of points)
        out.push(`<circle cx="${p.x.toFixed(1)}" cy="${p.y.toFixed(1)}" r="3" fill="${color}"/>`);
    }
  });
  systems.forEach((system, i) => {
    const y = PANEL.height + 20 + i * 20;
    out.push(
      `<rect x="${PANEL.left}" y="${y - 6}" width="16" height="4" fill="${COLORS[system] ?? '#000'}"/>`,
      `<text x="${PANEL.left + 22}" y="${y}" dominant-baseline="middle">${escapeXml(SYSTEM_LABELS[system])}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
