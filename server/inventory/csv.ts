// RFC 4180 CSV: quoted fields, doubled quotes, CRLF or LF, embedded line breaks in quotes.

export interface CsvRow {
  line: number; // 1-based line where the record starts
  fields: string[];
}

export type CsvResult = { ok: true; rows: CsvRow[] } | { ok: false; line: number; message: string };

export function parseCsv(text: string): CsvResult {
  const rows: CsvRow[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let rowLine = 1;
  let inQuotes = false;
  let quotedField = false;
  const src = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const endRow = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '' && !quotedField)) rows.push({ line: rowLine, fields });
    fields = [];
    field = '';
    quotedField = false;
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (inQuotes) {
      if (c === '"') {
        if (src[i + 1] === '"') (field += '"', i++);
        else inQuotes = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"') {
      if (field !== '') return { ok: false, line, message: 'a quote inside an unquoted field' };
      inQuotes = true;
      quotedField = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
      quotedField = false;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && src[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else {
      if (quotedField) return { ok: false, line, message: 'text after a closing quote' };
      field += c;
    }
  }
  if (inQuotes) return { ok: false, line: rowLine, message: 'unterminated quoted field' };
  if (field !== '' || fields.length > 0 || quotedField) endRow();
  return { ok: true, rows };
}
