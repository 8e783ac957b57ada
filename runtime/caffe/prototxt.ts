// The protobuf text format (.prototxt), parsed against schema.ts's tables into the same messages as the wire.

import { netFrom, type CaffeNet } from './caffemodel.js';
import { NET_PARAMETER, type Decoded, type FieldSpec, type MessageSpec } from './schema.js';
import { MAX_DEPTH } from './wire.js';

type TokenKind = 'ident' | 'number' | 'string' | 'punct' | 'end';
interface Token { readonly kind: TokenKind; readonly text: string; readonly line: number; readonly col: number }

const IDENT = /[A-Za-z_][A-Za-z0-9_.]*/y;
const NUMBER = /-?(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fF]?)/y;

/** Splits text into tokens lazily, tracking line and column for errors. */
class Lexer {
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  private peeked: Token | null = null;

  constructor(private readonly text: string, private readonly file: string) {}

  fail(at: { line: number; col: number }, what: string): never {
    throw new Error(`${this.file}: line ${at.line}, column ${at.col}: ${what}`);
  }

  peek(): Token {
    this.peeked ??= this.scan();
    return this.peeked;
  }

  next(): Token {
    const t = this.peek();
    this.peeked = null;
    return t;
  }

  private scan(): Token {
    const s = this.text;
    for (;;) {
      if (this.pos >= s.length) return { kind: 'end', text: '', line: this.line, col: this.pos - this.lineStart + 1 };
      const c = s[this.pos];
      if (c === '\n') {
        this.pos++;
        this.line++;
        this.lineStart = this.pos;
      } else if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
        this.pos++;
      } else if (c === '#') {
        const nl = s.indexOf('\n', this.pos);
        this.pos = nl < 0 ? s.length : nl;
      } else break;
    }
    const at = { line: this.line, col: this.pos - this.lineStart + 1 };
    const c = s[this.pos];
    if (c === '"' || c === "'") {
      let i = this.pos + 1;
      while (i < s.length && s[i] !== c && s[i] !== '\n') i += s[i] === '\\' ? 2 : 1;
      if (i >= s.length || s[i] !== c) this.fail(at, 'unterminated string');
      const text = s.slice(this.pos + 1, i);
      this.pos = i + 1;
      return { kind: 'string', text, ...at };
    }
    for (const [re, kind] of [[NUMBER, 'number'], [IDENT, 'ident']] as const) {
      re.lastIndex = this.pos;
      const m = re.exec(s);
      if (m !== null && (kind === 'ident' || !/[A-Za-z_]/.test(s[this.pos + m[0].length] ?? ''))) {
        this.pos += m[0].length;
        return { kind, text: m[0], ...at };
      }
    }
    if (c === '-' ) {
      // '-inf', '-nan': a sign before an identifier
      this.pos++;
      return { kind: 'punct', text: '-', ...at };
    }
    if ('{}<>[]:,;'.includes(c)) {
      this.pos++;
      return { kind: 'punct', text: c, ...at };
    }
    return this.fail(at, `unexpected character ${JSON.stringify(c)}`);
  }
}

/** Protobuf text escapes: \n \t \\ \' \" \xHH \ooo and friends, as UTF-8 bytes. */
function unescape(raw: string, lex: Lexer, at: Token): Uint8Array {
  const out: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== '\\') {
      // a run of plain characters, encoded at once
      let j = i;
      while (j < raw.length && raw[j] !== '\\') j++;
      out.push(...enc.encode(raw.slice(i, j)));
      i = j - 1;
      continue;
    }
    const e = raw[++i];
    const simple: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, '\\': 92, "'": 39, '"': 34, '?': 63 };
    if (e !== undefined && e in simple) out.push(simple[e]);
    else if (e === 'x' || e === 'X') {
      const m = /^[0-9a-fA-F]{1,2}/.exec(raw.slice(i + 1));
      if (m === null) lex.fail(at, 'bad \\x escape in string');
      out.push(parseInt(m[0], 16));
      i += m[0].length;
    } else if (e !== undefined && e >= '0' && e <= '7') {
      const m = /^[0-7]{1,3}/.exec(raw.slice(i))!;
      out.push(parseInt(m[0], 8) & 0xff);
      i += m[0].length - 1;
    } else lex.fail(at, `bad escape \\${e ?? ''} in string`);
  }
  return new Uint8Array(out);
}

const INT_LIMITS: Record<string, [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1], uint32: [0, 2 ** 32 - 1], int64: [-(2 ** 63), 2 ** 64], uint64: [0, 2 ** 64],
};

class TextParser {
  constructor(private readonly lex: Lexer) {}

  /** Fields until `close` ('}' or '>', or the end of the file at the top level). */
  message<M extends MessageSpec>(spec: M, close: string, depth: number, line: number): Decoded<M> {
    const out: Record<string, unknown> = { $at: line };
    const seen = new Set<string>();
    const typed = new Map<string, number[]>();
    for (;;) {
      const t = this.lex.next();
      if (close === '' ? t.kind === 'end' : t.kind === 'punct' && t.text === close) break;
      if (t.kind === 'end') this.lex.fail(t, `${spec.name}: missing '${close}' (the message opened on line ${line})`);
      if (t.kind === 'punct' && (t.text === ',' || t.text === ';')) continue;
      if (t.kind !== 'ident') this.lex.fail(t, `${spec.name}: expected a field name, got ${JSON.stringify(t.text)}`);
      const field = Object.hasOwn(spec.fields, t.text) ? spec.fields[t.text] : undefined;
      if (field === undefined) {
        this.skipValue(t, depth);
        ((out.$unknown ??= []) as string[]).push(t.text);
        continue;
      }
      if (!field.repeated && seen.has(t.text)) this.lex.fail(t, `${spec.name}.${t.text} is not repeated but is given again`);
      seen.add(t.text);
      const values = this.values(field, `${spec.name}.${t.text}`, depth);
      if (field.type === 'floats' || field.type === 'doubles') {
        const list = typed.get(t.text) ?? [];
        typed.set(t.text, list);
        for (const v of values) list.push(v as number);
      } else if (field.repeated) ((out[t.text] ??= []) as unknown[]).push(...values);
      else out[t.text] = values[0];
    }
    for (const [name, list] of typed) out[name] = spec.fields[name].type === 'floats' ? new Float32Array(list) : new Float64Array(list);
    return out as Decoded<M>;
  }

  /** The value(s) after a field name: `: v`, `: [v, ...]`, `{ ... }` or `: { ... }`. */
  private values(field: FieldSpec, where: string, depth: number): unknown[] {
    const type = field.type;
    const isMessage = typeof type === 'object' && 'fields' in type;
    let t = this.lex.peek();
    const colon = t.kind === 'punct' && t.text === ':';
    if (colon) {
      this.lex.next();
      t = this.lex.peek();
    }
    if (t.kind === 'punct' && t.text === '[') {
      if (!field.repeated) this.lex.fail(t, `${where} is not repeated, so it takes no list`);
      this.lex.next();
      const out: unknown[] = [];
      for (;;) {
        const u = this.lex.peek();
        if (u.kind === 'punct' && u.text === ']') { this.lex.next(); return out; }
        if (out.length > 0) {
          if (!(u.kind === 'punct' && u.text === ',')) this.lex.fail(u, `${where}: expected ',' or ']' in a list`);
          this.lex.next();
        }
        out.push(this.one(field, where, depth));
      }
    }
    if (!isMessage && !colon) this.lex.fail(t, `${where}: expected ':' after the field name`);
    return [this.one(field, where, depth)];
  }

  private one(field: FieldSpec, where: string, depth: number): unknown {
    const type = field.type;
    if (typeof type === 'object' && 'fields' in type) {
      const open = this.lex.next();
      if (!(open.kind === 'punct' && (open.text === '{' || open.text === '<'))) this.lex.fail(open, `${where}: expected '{' to open a ${type.name}`);
      if (depth + 1 > MAX_DEPTH) this.lex.fail(open, `${where}: messages nested deeper than ${MAX_DEPTH}`);
      return this.message(type, open.text === '{' ? '}' : '>', depth + 1, open.line);
    }
    const t = this.lex.next();
    if (typeof type === 'object') {
      if (t.kind === 'ident' && Object.hasOwn(type.values, t.text)) return t.text;
      if (t.kind === 'number') {
        const v = Number(t.text);
        const k = Object.keys(type.values).find((n) => type.values[n] === v);
        if (k !== undefined) return k;
      }
      return this.lex.fail(t, `${where}: ${JSON.stringify(t.text)} is not a value of enum ${type.name} (${Object.keys(type.values).join(', ')})`);
    }
    switch (type) {
      case 'string': case 'bytes': {
        if (t.kind !== 'string') this.lex.fail(t, `${where}: expected a quoted string, got ${JSON.stringify(t.text)}`);
        const parts = [unescape(t.text, this.lex, t)];
        // adjacent strings concatenate, as in C
        while (this.lex.peek().kind === 'string') {
          const u = this.lex.next();
          parts.push(unescape(u.text, this.lex, u));
        }
        const bytes = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
        let at = 0;
        for (const p of parts) { bytes.set(p, at); at += p.length; }
        return type === 'string' ? new TextDecoder().decode(bytes) : bytes;
      }
      case 'bool': {
        if (t.kind === 'ident' && ['true', 't', 'True'].includes(t.text)) return true;
        if (t.kind === 'ident' && ['false', 'f', 'False'].includes(t.text)) return false;
        if (t.kind === 'number' && (t.text === '0' || t.text === '1')) return t.text === '1';
        return this.lex.fail(t, `${where}: expected true or false, got ${JSON.stringify(t.text)}`);
      }
      case 'float': case 'double': case 'floats': case 'doubles': {
        const neg = t.kind === 'punct' && t.text === '-';
        const u = neg ? this.lex.next() : t;
        let v: number;
        if (u.kind === 'number') v = Number(u.text.replace(/[fF]$/, '').replace(/^-?0[xX].*/, (h) => String(parseInt(h, 16))));
        else if (u.kind === 'ident' && /^(inf|infinity)$/i.test(u.text)) v = Infinity;
        else if (u.kind === 'ident' && /^nan$/i.test(u.text)) v = NaN;
        else return this.lex.fail(u, `${where}: expected a number, got ${JSON.stringify(u.text)}`);
        if (Number.isNaN(v) && u.kind === 'number') this.lex.fail(u, `${where}: bad number ${JSON.stringify(u.text)}`);
        return neg ? -v : v;
      }
      case 'int32': case 'int64': case 'uint32': case 'uint64': {
        if (t.kind !== 'number' || !/^-?(0[xX][0-9a-fA-F]+|[0-9]+)$/.test(t.text)) this.lex.fail(t, `${where}: expected an integer, got ${JSON.stringify(t.text)}`);
        const neg = t.text.startsWith('-');
        const body = neg ? t.text.slice(1) : t.text;
        const v = (neg ? -1 : 1) * (/^0[xX]/.test(body) ? parseInt(body, 16) : /^0[0-7]+$/.test(body) ? parseInt(body, 8) : Number(body));
        const [lo, hi] = INT_LIMITS[type];
        if (!(v >= lo && v <= hi)) this.lex.fail(t, `${where}: ${t.text} is out of range for ${type}`);
        return v;
      }
      default: return type satisfies never;
    }
  }

  /** Skip an unknown field's value: a scalar, a list, or a message (nesting bounded by MAX_DEPTH). */
  private skipValue(name: Token, depth: number): void {
    let t = this.lex.peek();
    if (t.kind === 'punct' && t.text === ':') {
      this.lex.next();
      t = this.lex.peek();
    }
    if (t.kind === 'punct' && (t.text === '{' || t.text === '<' || t.text === '[')) {
      // an iterative scan that only counts brackets
      const stack: string[] = [];
      do {
        const u = this.lex.next();
        if (u.kind === 'end') this.lex.fail(name, `unknown field ${name.text}: its value never closes`);
        if (u.kind === 'punct' && '{<['.includes(u.text)) {
          stack.push({ '{': '}', '<': '>', '[': ']' }[u.text]!);
          if (depth + stack.length > MAX_DEPTH) this.lex.fail(u, `unknown field ${name.text}: nested deeper than ${MAX_DEPTH}`);
        } else if (u.kind === 'punct' && '}>]'.includes(u.text)) {
          if (stack.pop() !== u.text) this.lex.fail(u, `unknown field ${name.text}: mismatched ${JSON.stringify(u.text)}`);
        }
      } while (stack.length > 0);
      return;
    }
    const u = this.lex.next();
    if (u.kind === 'punct' && u.text === '-') {
      const v = this.lex.next();
      if (v.kind !== 'number' && v.kind !== 'ident') this.lex.fail(v, `unknown field ${name.text}: expected a value after '-'`);
    } else if (u.kind === 'string') {
      while (this.lex.peek().kind === 'string') this.lex.next();
    } else if (u.kind !== 'number' && u.kind !== 'ident') this.lex.fail(u, `unknown field ${name.text}: expected a value, got ${JSON.stringify(u.text)}`);
  }
}

/** Parse protobuf text as the message `spec`; errors read `<file>: line L, column C: ...`. */
export function parseText<M extends MessageSpec>(text: string, spec: M, file: string): Decoded<M> {
  return new TextParser(new Lexer(text, file)).message(spec, '', 0, 1);
}

/**
 * Read a .prototxt net (deploy or training; current `layer` or V1 `layers`). Unknown fields
 * are skipped and listed in each message's `$unknown`, so CaffeFunction can refuse the ones
 * it would otherwise silently ignore.
 */
export function readPrototxt(text: string, file = 'prototxt'): CaffeNet {
  return netFrom(parseText(text, NET_PARAMETER, file), file, 'line');
}
