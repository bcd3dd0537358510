// Plain-text tables (Markdown pipe syntax, so the output pastes into docs as is) and small number helpers.

export type Align = 'left' | 'right';

export interface Table {
  title: string;
  headers: string[];
  /** Column alignment; defaults to left for the first column and right for the rest. */
  align?: Align[];
  rows: string[][];
  notes?: string[];
}

/** Renders a Markdown table with padded columns. Cells containing '|' are escaped. */
export function formatTable(t: Table): string {
  const cols = t.headers.length;
  const cell = (s: string | undefined): string => (s ?? '').replace(/\|/g, '\\|');
  const rows = t.rows.map((r) => Array.from({ length: cols }, (_, i) => cell(r[i])));
  const head = t.headers.map(cell);
  const align = Array.from({ length: cols }, (_, i) => t.align?.[i] ?? (i === 0 ? 'left' : 'right'));
  const width = head.map((h, i) => Math.max(3, h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const pad = (s: string, i: number): string => (align[i] === 'right' ? s.padStart(width[i] ?? 0) : s.padEnd(width[i] ?? 0));
  const line = (r: string[]): string => `| ${r.map(pad).join(' | ')} |`;
  const rule = `|${width.map((w, i) => (align[i] === 'right' ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  const out = [`### ${t.title}`, '', line(head), rule, ...rows.map(line)];
  if (t.notes !== undefined && t.notes.length > 0) out.push('', ...t.notes.map((n) => `- ${n}`));
  return out.join('\n');
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Fixed decimals, or an en dash for a missing value. */
export function fmt(n: number | null | undefined, decimals = 1): string {
  return n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(decimals);
}

/** Seconds with precision suited to the magnitude (0.043 s, 1.38 s, 12.4 s). */
export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '–';
  return s < 0.1 ? s.toFixed(3) : s < 10 ? s.toFixed(2) : s.toFixed(1);
}
