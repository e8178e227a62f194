/**
 * A linear-time scanner for Structured Field Dictionaries (RFC 8941 §3.2,
 * §4.2.2), such as a `priority` field value (`u=1, i`). It follows
 * RFC 8941 §4.2's parsing algorithm production by production and reports
 * each member's key with the kind of its value; Integers and Booleans come
 * with their value, the other kinds (Decimals, Strings, Tokens, Byte
 * Sequences, Inner Lists, and every parameter) are checked and skipped,
 * not built.
 *
 * RFC 9218 cites RFC 8941, so this is its grammar: RFC 9651's later Date
 * (`@`) and Display String (`%"`) items make a field invalid here.
 *
 * @module
 */

import { isTchar } from "../http/request.ts";

/** What a dictionary member's value is (parameters aside). */
export type MemberValue =
  | { kind: "integer"; value: number }
  | { kind: "boolean"; value: boolean }
  | { kind: "decimal" | "string" | "token" | "byte-sequence" | "inner-list" };

/**
 * Scans `text`, a whole field value, as a Dictionary: calls
 * `onMember(key, value)` for each member in order (a repeated key is
 * reported each time; RFC 8941 says the last one counts), and returns
 * false when the value is not a valid Dictionary, in which case RFC 8941
 * §4.2 says to ignore the field (members reported before the error
 * included). Linear in `text`: every step consumes input.
 */
export function scanDictionary(
  text: string,
  onMember: (key: string, value: MemberValue) => void,
): boolean {
  return new DictionaryScanner(text, onMember).parse();
}

const SP = 0x20;
const HTAB = 0x09;
const DQUOTE = 0x22;
const LPAREN = 0x28;
const RPAREN = 0x29;
const STAR = 0x2a;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const COLON = 0x3a;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const QUESTION = 0x3f;
const BACKSLASH = 0x5c;

/** What the last bare item or member value scanned was. */
const enum Kind {
  Integer,
  Decimal,
  String,
  Token,
  ByteSequence,
  Boolean,
  InnerList,
}

/** Characters of a key after the first (RFC 8941 §3.1.2). */
const KEY_CHARS = new Uint8Array(128);
for (let c = 0x61; c <= 0x7a; c++) KEY_CHARS[c] = 1;
for (let c = 0x30; c <= 0x39; c++) KEY_CHARS[c] = 1;
for (const c of "_-.*") KEY_CHARS[c.charCodeAt(0)] = 1;

/** Characters of base64 content in a Byte Sequence (RFC 8941 §4.2.7). */
const BASE64_CHARS = new Uint8Array(128);
for (let c = 0x41; c <= 0x5a; c++) BASE64_CHARS[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) BASE64_CHARS[c] = 1;
for (let c = 0x30; c <= 0x39; c++) BASE64_CHARS[c] = 1;
for (const c of "+/=") BASE64_CHARS[c.charCodeAt(0)] = 1;

function isDigitCode(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isAlphaCode(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/**
 * One pass of RFC 8941 §4.2's Dictionary parsing over a field value. Each
 * method consumes what its production matched and returns false when the
 * input breaks the grammar; every loop advances, so the scan is linear.
 * Only the last bare item's kind and, for Integers and Booleans, its value
 * are kept.
 */
class DictionaryScanner {
  #i = 0;
  #kind = Kind.Integer;
  #integer = 0;
  #boolean = false;
  constructor(
    readonly text: string,
    readonly onMember: (key: string, value: MemberValue) => void,
  ) {}

  /**
   * The whole field: leading SP, then a Dictionary, which only succeeds at
   * the end of the input (its trailing OWS included).
   */
  parse(): boolean {
    this.#skipSp();
    return this.#dictionary();
  }

  #peek(): number {
    // NaN past the end, which no comparison below matches.
    return this.text.charCodeAt(this.#i);
  }

  #skipSp(): void {
    while (this.#peek() === SP) this.#i++;
  }

  #skipOws(): void {
    let c = this.#peek();
    while (c === SP || c === HTAB) c = this.text.charCodeAt(++this.#i);
  }

  #dictionary(): boolean {
    if (this.#i === this.text.length) return true; // empty is valid
    while (true) {
      const keyStart = this.#i;
      if (!this.#key()) return false;
      const key = this.text.slice(keyStart, this.#i);
      if (this.#peek() === EQUALS) {
        this.#i++;
        const ok = this.#peek() === LPAREN ? this.#innerList() : this.#item();
        if (!ok) return false;
      } else {
        // A bare key is Boolean true, with parameters.
        if (!this.#parameters()) return false;
        this.#kind = Kind.Boolean;
        this.#boolean = true;
      }
      this.onMember(key, this.#value());
      this.#skipOws();
      if (this.#i === this.text.length) return true;
      if (this.#peek() !== COMMA) return false;
      this.#i++;
      this.#skipOws();
      // A trailing comma is an error.
      if (this.#i === this.text.length) return false;
    }
  }

  /** The value just scanned, for {@linkcode scanDictionary}'s callback. */
  #value(): MemberValue {
    switch (this.#kind) {
      case Kind.Integer:
        return { kind: "integer", value: this.#integer };
      case Kind.Boolean:
        return { kind: "boolean", value: this.#boolean };
      case Kind.Decimal:
        return { kind: "decimal" };
      case Kind.String:
        return { kind: "string" };
      case Kind.Token:
        return { kind: "token" };
      case Kind.ByteSequence:
        return { kind: "byte-sequence" };
      case Kind.InnerList:
        return { kind: "inner-list" };
    }
  }

  /** key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) */
  #key(): boolean {
    const c = this.#peek();
    if (!((c >= 0x61 && c <= 0x7a) || c === STAR)) return false;
    this.#i++;
    while (KEY_CHARS[this.#peek()] === 1) this.#i++;
    return true;
  }

  /** parameters = *( ";" *SP key [ "=" bare-item ] ) */
  #parameters(): boolean {
    while (this.#peek() === SEMICOLON) {
      this.#i++;
      this.#skipSp();
      if (!this.#key()) return false;
      if (this.#peek() === EQUALS) {
        this.#i++;
        if (!this.#bareItem()) return false;
      }
    }
    return true;
  }

  /** sf-item = bare-item parameters; the item's kind and value are kept. */
  #item(): boolean {
    if (!this.#bareItem()) return false;
    const kind = this.#kind;
    const integer = this.#integer;
    const boolean = this.#boolean;
    if (!this.#parameters()) return false;
    this.#kind = kind;
    this.#integer = integer;
    this.#boolean = boolean;
    return true;
  }

  /** inner-list = "(" *SP [ sf-item *( 1*SP sf-item ) *SP ] ")" parameters */
  #innerList(): boolean {
    this.#i++; // "("
    while (true) {
      this.#skipSp();
      if (this.#peek() === RPAREN) {
        this.#i++;
        if (!this.#parameters()) return false;
        this.#kind = Kind.InnerList;
        return true;
      }
      if (!this.#item()) return false; // the end of input fails here too
      const c = this.#peek();
      if (c !== SP && c !== RPAREN) return false;
    }
  }

  #bareItem(): boolean {
    const c = this.#peek();
    if (c === MINUS || isDigitCode(c)) return this.#number();
    if (c === DQUOTE) return this.#string();
    if (c === STAR || isAlphaCode(c)) return this.#token();
    if (c === COLON) return this.#byteSequence();
    if (c === QUESTION) return this.#booleanItem();
    return false;
  }

  /** Integer or Decimal (RFC 8941 §4.2.4), at most 16 characters. */
  #number(): boolean {
    const negative = this.#peek() === MINUS;
    if (negative) this.#i++;
    if (!isDigitCode(this.#peek())) return false;
    const start = this.#i;
    let dot = -1;
    let value = 0;
    while (true) {
      const c = this.#peek();
      if (isDigitCode(c)) {
        if (dot < 0) value = value * 10 + (c - 0x30);
      } else if (c === DOT && dot < 0) {
        if (this.#i - start > 12) return false;
        dot = this.#i;
      } else {
        break;
      }
      this.#i++;
      if (this.#i - start > (dot < 0 ? 15 : 16)) return false;
    }
    if (dot >= 0) {
      const fraction = this.#i - dot - 1;
      if (fraction === 0 || fraction > 3) return false;
      this.#kind = Kind.Decimal;
      return true;
    }
    this.#kind = Kind.Integer;
    // `-0` is 0; adding 0 turns JavaScript's -0 into it.
    this.#integer = (negative ? -value : value) + 0;
    return true;
  }

  /** sf-string: printable ASCII, `\"` and `\\` the only escapes. */
  #string(): boolean {
    const text = this.text;
    let i = this.#i + 1;
    while (i < text.length) {
      const c = text.charCodeAt(i++);
      if (c === BACKSLASH) {
        const next = text.charCodeAt(i++);
        if (next !== DQUOTE && next !== BACKSLASH) return false;
      } else if (c === DQUOTE) {
        this.#i = i;
        this.#kind = Kind.String;
        return true;
      } else if (c < 0x20 || c >= 0x7f) {
        return false;
      }
    }
    return false;
  }

  /** sf-token = ( ALPHA / "*" ) *( tchar / ":" / "/" ) */
  #token(): boolean {
    this.#i++;
    while (true) {
      const c = this.#peek();
      if (!(c < 0x80 && (isTchar(c) || c === COLON || c === 0x2f))) break;
      this.#i++;
    }
    this.#kind = Kind.Token;
    return true;
  }

  /** sf-binary = ":" *(base64) ":" */
  #byteSequence(): boolean {
    this.#i++;
    while (BASE64_CHARS[this.#peek()] === 1) this.#i++;
    if (this.#peek() !== COLON) return false;
    this.#i++;
    this.#kind = Kind.ByteSequence;
    return true;
  }

  /** sf-boolean = "?" ( "0" / "1" ) */
  #booleanItem(): boolean {
    const c = this.text.charCodeAt(this.#i + 1);
    if (c !== 0x30 && c !== 0x31) return false;
    this.#i += 2;
    this.#kind = Kind.Boolean;
    this.#boolean = c === 0x31;
    return true;
  }
}
