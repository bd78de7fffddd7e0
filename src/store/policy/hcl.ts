/**
 * A parser for the subset of HCL (version 1, the dialect Vault policies are written in) that policies use: blocks
 * (`path "x" { ... }`), assignments (`key = value`), strings (with escapes), heredocs (`<<EOT`/`<<-EOT`), numbers,
 * booleans, lists and nested objects; comments `#`, `//` and `/* *\/`. It builds a small tree and knows nothing about
 * policies. Every failure is a 400 {@link StoreApiError} `failed to parse policy: At L:C: ...`, the shape Vault's HCL
 * errors take, so a malformed policy can never surface as an uncaught exception.
 */
import { StoreApiError } from '../api-error.js';

/** A parsed HCL value. */
export type HclValue =
  | { kind: 'string'; value: string; line: number }
  | { kind: 'number'; value: number; line: number }
  | { kind: 'bool'; value: boolean; line: number }
  | { kind: 'list'; items: HclValue[]; line: number }
  | { kind: 'object'; items: HclItem[]; line: number };

/** One `keys... = value` or `keys... { body }` item. */
export interface HclItem {
  keys: string[];
  value: HclValue;
  line: number;
}

type TokenKind = 'ident' | 'string' | 'number' | 'lbrace' | 'rbrace' | 'lbrack' | 'rbrack' | 'assign' | 'comma' | 'eof';

interface Token {
  kind: TokenKind;
  text: string;
  line: number;
  col: number;
}

/** Nesting deeper than this is refused, so hostile input cannot exhaust the stack. */
const MAX_DEPTH = 32;

function syntaxError(line: number, col: number, msg: string): StoreApiError {
  return new StoreApiError(400, `failed to parse policy: At ${line}:${col}: ${msg}`);
}

function isIdentStart(c: string): boolean {
  return /[A-Za-z_]/.test(c);
}

function isIdentPart(c: string): boolean {
  return /[A-Za-z0-9_.\-:]/.test(c);
}

/** Splits HCL text into tokens. */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const col = (): number => i - lineStart + 1;
  const newline = (at: number): void => {
    line++;
    lineStart = at + 1;
  };
  while (i < text.length) {
    const c = text.charAt(i);
    if (c === '\n') {
      newline(i);
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#' || (c === '/' && text.charAt(i + 1) === '/')) {
      while (i < text.length && text.charAt(i) !== '\n') i++;
      continue;
    }
    if (c === '/' && text.charAt(i + 1) === '*') {
      const startLine = line;
      const startCol = col();
      const end = text.indexOf('*/', i + 2);
      if (end === -1) throw syntaxError(startLine, startCol, 'comment not terminated');
      for (let k = i; k < end; k++) if (text.charAt(k) === '\n') newline(k);
      i = end + 2;
      continue;
    }
    const single: Partial<Record<string, TokenKind>> = {
      '{': 'lbrace',
      '}': 'rbrace',
      '[': 'lbrack',
      ']': 'rbrack',
      '=': 'assign',
      ',': 'comma',
    };
    const kind = single[c];
    if (kind !== undefined) {
      tokens.push({ kind, text: c, line, col: col() });
      i++;
      continue;
    }
    if (c === '"') {
      const startCol = col();
      const startLine = line;
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw syntaxError(startLine, startCol, 'literal not terminated');
        const d = text.charAt(i);
        if (d === '\n') throw syntaxError(startLine, startCol, 'literal not terminated');
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\') {
          const e = text.charAt(i + 1);
          const simple: Partial<Record<string, string>> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', '/': '/' };
          const mapped = simple[e];
          if (mapped !== undefined) {
            value += mapped;
            i += 2;
            continue;
          }
          if (e === 'u') {
            const hex = text.slice(i + 2, i + 6);
            if (!/^[0-9A-Fa-f]{4}$/.test(hex)) throw syntaxError(line, col(), 'illegal char escape');
            value += String.fromCharCode(parseInt(hex, 16));
            i += 6;
            continue;
          }
          throw syntaxError(line, col(), 'illegal char escape');
        }
        value += d;
        i++;
      }
      tokens.push({ kind: 'string', text: value, line: startLine, col: startCol });
      continue;
    }
    if (c === '<' && text.charAt(i + 1) === '<') {
      const startLine = line;
      const startCol = col();
      let j = i + 2;
      const indent = text.charAt(j) === '-';
      if (indent) j++;
      const nl = text.indexOf('\n', j);
      const anchor = (nl === -1 ? text.slice(j) : text.slice(j, nl)).trimEnd();
      if (nl === -1 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(anchor)) throw syntaxError(startLine, startCol, 'heredoc expected anchor');
      newline(nl);
      let pos = nl + 1;
      const lines: string[] = [];
      for (;;) {
        if (pos > text.length) throw syntaxError(startLine, startCol, 'heredoc not terminated');
        const end = text.indexOf('\n', pos);
        const raw = end === -1 ? text.slice(pos) : text.slice(pos, end);
        if (raw.trim() === anchor) {
          i = end === -1 ? text.length : end;
          break;
        }
        lines.push(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
        if (end === -1) throw syntaxError(startLine, startCol, 'heredoc not terminated');
        newline(end);
        pos = end + 1;
      }
      let body = lines;
      if (indent) {
        const widths = lines.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length);
        const strip = widths.length === 0 ? 0 : Math.min(...widths);
        body = lines.map((l) => l.slice(strip));
      }
      tokens.push({ kind: 'string', text: body.map((l) => l + '\n').join(''), line: startLine, col: startCol });
      continue;
    }
    if (/[0-9-]/.test(c)) {
      const m = /^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 64));
      if (m === null) throw syntaxError(line, col(), `illegal char "${c}"`);
      tokens.push({ kind: 'number', text: m[0], line, col: col() });
      i += m[0].length;
      continue;
    }
    if (isIdentStart(c)) {
      const start = i;
      while (i < text.length && isIdentPart(text.charAt(i))) i++;
      tokens.push({ kind: 'ident', text: text.slice(start, i), line, col: start - lineStart + 1 });
      continue;
    }
    throw syntaxError(line, col(), 'illegal char');
  }
  tokens.push({ kind: 'eof', text: '', line, col: col() });
  return tokens;
}

/** Recursive-descent parser over the token list. */
class Parser {
  private pos = 0;
  private readonly tokens: Token[];

  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }

  private peek(): Token {
    // The token list always ends with 'eof' and the parser never moves past it.
    return this.tokens[Math.min(this.pos, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  parseBody(depth: number, closing: 'rbrace' | 'eof'): HclItem[] {
    if (depth > MAX_DEPTH) {
      const t = this.peek();
      throw syntaxError(t.line, t.col, 'nesting too deep');
    }
    const items: HclItem[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind === closing) {
        this.next();
        return items;
      }
      if (t.kind === 'eof') throw syntaxError(t.line, t.col, 'object expected closing RBRACE got: EOF');
      items.push(this.parseItem(depth));
      if (this.peek().kind === 'comma') this.next();
    }
  }

  private parseItem(depth: number): HclItem {
    const first = this.peek();
    const keys: string[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind === 'ident' || t.kind === 'string') {
        keys.push(this.next().text);
        continue;
      }
      break;
    }
    const t = this.peek();
    if (keys.length === 0) throw syntaxError(t.line, t.col, `expected start of object ('{') or assignment ('=')`);
    if (t.kind === 'assign') {
      if (keys.length > 1) throw syntaxError(t.line, t.col, 'nested object expected: LBRACE got: ASSIGN');
      this.next();
      return { keys, value: this.parseValue(depth + 1), line: first.line };
    }
    if (t.kind === 'lbrace') {
      this.next();
      return { keys, value: { kind: 'object', items: this.parseBody(depth + 1, 'rbrace'), line: t.line }, line: first.line };
    }
    throw syntaxError(t.line, t.col, `key '${keys.join(' ')}' expected start of object ('{') or assignment ('=')`);
  }

  private parseValue(depth: number): HclValue {
    if (depth > MAX_DEPTH) {
      const t = this.peek();
      throw syntaxError(t.line, t.col, 'nesting too deep');
    }
    const t = this.next();
    switch (t.kind) {
      case 'string':
        return { kind: 'string', value: t.text, line: t.line };
      case 'number': {
        const n = Number(t.text);
        if (!Number.isFinite(n)) throw syntaxError(t.line, t.col, 'invalid number');
        return { kind: 'number', value: n, line: t.line };
      }
      case 'ident':
        if (t.text === 'true' || t.text === 'false') return { kind: 'bool', value: t.text === 'true', line: t.line };
        throw syntaxError(t.line, t.col, `Unknown token: IDENT ${t.text}`);
      case 'lbrace':
        return { kind: 'object', items: this.parseBody(depth + 1, 'rbrace'), line: t.line };
      case 'lbrack': {
        const items: HclValue[] = [];
        for (;;) {
          const n = this.peek();
          if (n.kind === 'rbrack') {
            this.next();
            return { kind: 'list', items, line: t.line };
          }
          items.push(this.parseValue(depth + 1));
          const sep = this.peek();
          if (sep.kind === 'comma') {
            this.next();
            continue;
          }
          if (sep.kind !== 'rbrack') throw syntaxError(sep.line, sep.col, `error parsing list, expected comma or list end, got: ${sep.kind.toUpperCase()}`);
        }
      }
      default:
        throw syntaxError(t.line, t.col, `Unknown token: ${t.kind.toUpperCase()} ${t.text}`);
    }
  }
}

/** Parses HCL text into its top-level items; throws a 400 StoreApiError on any syntax error. */
export function parseHcl(text: string): HclItem[] {
  return new Parser(tokenize(text)).parseBody(0, 'eof');
}
