// Test helpers for the reporter tests: parse TAP with tap-parser into a tree, and a tiny
// character-level XML well-formedness checker (no regexes, no XML dependency).
import { Parser, type Result, type FinalResults } from 'tap-parser';

export interface TapNode {
  result: Result;
  children: TapNode[];
}

export interface ParsedTap {
  final: FinalResults;
  points: TapNode[];
}

export function parseTapTree(text: string): ParsedTap {
  let final: FinalResults | undefined;
  const p = new Parser((r) => (final = r));
  const points: TapNode[] = [];
  const attach = (parser: Parser, into: TapNode[]) => {
    let pending: TapNode[] | undefined;
    parser.on('child', (c: Parser) => {
      const kids: TapNode[] = [];
      attach(c, kids);
      pending = kids;
    });
    parser.on('assert', (r: Result) => {
      into.push({ result: r, children: pending ?? [] });
      pending = undefined;
    });
  };
  attach(p, points);
  p.end(text);
  if (!final) throw new Error('tap-parser did not complete');
  return { final, points };
}

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const isNameChar = (c: string) =>
  (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c === '_' || c === '-' || c === '.' || c === ':';

function validXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/** Parse (a practical subset of) XML 1.0, throwing on anything not well-formed. */
export function parseXml(src: string): XmlElement {
  for (const ch of src) {
    const cp = ch.codePointAt(0)!;
    if (!validXmlChar(cp)) throw new Error(`invalid XML character U+${cp.toString(16)}`);
  }
  let i = 0;
  const expect = (s: string) => {
    if (!src.startsWith(s, i)) throw new Error(`expected ${JSON.stringify(s)} at ${i}: ${JSON.stringify(src.slice(i, i + 20))}`);
    i += s.length;
  };
  const ws = () => {
    while (i < src.length && ' \t\r\n'.includes(src[i]!)) i++;
  };
  const name = () => {
    const s = i;
    while (i < src.length && isNameChar(src[i]!)) i++;
    if (i === s) throw new Error(`expected a name at ${i}`);
    return src.slice(s, i);
  };
  const entity = (): string => {
    expect('&');
    const s = i;
    while (i < src.length && src[i] !== ';') {
      if (i - s > 10) throw new Error(`unterminated entity at ${s}`);
      i++;
    }
    const e = src.slice(s, i);
    i++;
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (e in named) return named[e]!;
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    throw new Error(`unknown entity &${e};`);
  };
  const element = (): XmlElement => {
    expect('<');
    const el: XmlElement = { name: name(), attrs: {}, children: [], text: '' };
    for (;;) {
      ws();
      if (src.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (src[i] === '>') {
        i++;
        break;
      }
      const an = name();
      ws();
      expect('=');
      ws();
      const q = src[i];
      if (q !== '"' && q !== "'") throw new Error(`unquoted attribute ${an}`);
      i++;
      let v = '';
      while (src[i] !== q) {
        if (i >= src.length) throw new Error('unterminated attribute');
        if (src[i] === '<') throw new Error(`raw < in attribute ${an}`);
        if (src[i] === '&') v += entity();
        else v += src[i++];
      }
      i++;
      if (an in el.attrs) throw new Error(`duplicate attribute ${an}`);
      el.attrs[an] = v;
    }
    for (;;) {
      if (i >= src.length) throw new Error(`unclosed <${el.name}>`);
      if (src.startsWith('</', i)) {
        i += 2;
        const n = name();
        if (n !== el.name) throw new Error(`mismatched </${n}> for <${el.name}>`);
        ws();
        expect('>');
        return el;
      }
      if (src[i] === '<') el.children.push(element());
      else if (src[i] === '&') el.text += entity();
      else if (src[i] === '>' && src.startsWith(']]>', i - 2)) throw new Error(']]> in text');
      else el.text += src[i++];
    }
  };
  if (src.startsWith('<?xml', i)) {
    const end = src.indexOf('?>', i);
    if (end < 0) throw new Error('unterminated XML declaration');
    i = end + 2;
  }
  ws();
  const root = element();
  ws();
  if (i !== src.length) throw new Error(`content after the root element at ${i}`);
  return root;
}

export function findAll(el: XmlElement, name: string): XmlElement[] {
  return [...(el.name === name ? [el] : []), ...el.children.flatMap((c) => findAll(c, name))];
}
