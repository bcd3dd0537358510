// A strict reader of the Prometheus text exposition format (0.0.4): every line must be a comment,
// HELP, TYPE or a sample, so a malformed exposition fails the test that reads it.

export interface PromFamily {
  type: string;
  help: string;
}

export interface PromScrape {
  families: Map<string, PromFamily>;
  /** Samples keyed `name{a="1",b="2"}` with labels sorted by name, or just `name`. */
  samples: Map<string, number>;
  /** One sample by name and labels; undefined when absent. */
  get(name: string, labels?: Record<string, string>): number | undefined;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;

function key(name: string, labels: Record<string, string>): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]}"`);
  return parts.length === 0 ? name : `${name}{${parts.join(',')}}`;
}

function parseValue(s: string): number {
  const special: Record<string, number> = { '+Inf': Infinity, '-Inf': -Infinity, NaN: NaN };
  if (s in special) return special[s]!;
  const v = Number(s);
  if (!Number.isFinite(v)) throw new Error(`bad value '${s}'`);
  return v;
}

export function parsePromText(text: string): PromScrape {
  const families = new Map<string, PromFamily>();
  const samples = new Map<string, number>();
  text.split('\n').forEach((line, i) => {
    if (line === '') return;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta !== null) {
      const f = families.get(meta[2]!) ?? { type: 'untyped', help: '' };
      if (meta[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(meta[3]!)) throw new Error(`line ${i + 1}: unknown type '${meta[3]}'`);
        f.type = meta[3]!;
      } else f.help = meta[3]!;
      families.set(meta[2]!, f);
      return;
    }
    if (line.startsWith('#')) return;
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`line ${i + 1} is not a sample: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2] !== undefined && m[2] !== '') {
      LABEL.lastIndex = 0;
      while (LABEL.lastIndex < m[2].length) {
        const at = LABEL.lastIndex;
        const l = LABEL.exec(m[2]);
        if (l === null) throw new Error(`line ${i + 1}: bad labels at ${at}: ${line}`);
        labels[l[1]!] = l[2]!;
      }
    }
    const k = key(m[1]!, labels);
    if (samples.has(k)) throw new Error(`line ${i + 1}: duplicate sample ${k}`);
    samples.set(k, parseValue(m[3]!));
  });
  return { families, samples, get: (name, labels = {}) => samples.get(key(name, labels)) };
}
