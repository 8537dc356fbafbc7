// A small WebAssembly binary encoder: enough of the format (WebAssembly Core Specification
// 2.0, chapter 5 "Binary Format") to build modules of i32 functions over an imported
// memory, for code generated at run time. bench/wasm-region.ts builds its hand-written
// region with it; it is the first piece of a WebAssembly tier for compiled code.

/** The WebAssembly JS API as used here (the project's TypeScript libs do not declare it). */
export interface WasmMemory { readonly buffer: ArrayBuffer }
export interface WasmTable { grow(n: number): number; set(i: number, f: unknown): void; readonly length: number }
export interface WasmApi {
  Memory: new (d: { initial: number; maximum: number }) => WasmMemory;
  Table: new (d: { initial: number; element: 'anyfunc' }) => WasmTable;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}
/** The host's WebAssembly, or null (a JavaScript engine without it). */
export const wasmApi: WasmApi | null = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly ?? null;

/** Unsigned LEB128 (5.2.2) of an integer 0..2^32-1. */
export function uleb(v: number): number[] {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`uleb: ${v} is not a u32`);
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 (5.2.2) of an integer -2^31..2^31-1 (i32.const takes uint32 values as their int32). */
export function sleb(v: number): number[] {
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) throw new RangeError(`sleb: ${v} is not an i32`);
  v |= 0;
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) { out.push(b); return out; }
    out.push(b | 0x80);
  }
}

export const I32 = 0x7f;
/** Block type: no result (5.4.1, the empty block type 0x40). */
const VOID = 0x40;

/** Opcodes (5.4) of the i32 instructions the generated code uses, without immediates. */
export const Op = {
  unreachable: 0x00, nop: 0x01, return: 0x0f, drop: 0x1a, select: 0x1b,
  i32eqz: 0x45, i32eq: 0x46, i32ne: 0x47, i32ltS: 0x48, i32ltU: 0x49, i32gtS: 0x4a, i32gtU: 0x4b,
  i32leS: 0x4c, i32leU: 0x4d, i32geS: 0x4e, i32geU: 0x4f,
  i32clz: 0x67, i32ctz: 0x68, i32popcnt: 0x69, i32add: 0x6a, i32sub: 0x6b, i32mul: 0x6c, i32divS: 0x6d, i32divU: 0x6e,
  i32remS: 0x6f, i32remU: 0x70, i32and: 0x71, i32or: 0x72, i32xor: 0x73, i32shl: 0x74, i32shrS: 0x75, i32shrU: 0x76,
  i32rotl: 0x77, i32rotr: 0x78,
} as const;

/** Memory access opcodes (5.4.6) and their natural alignment (log2 of the size). */
const LOADS = { i32load: [0x28, 2], i32load8S: [0x2c, 0], i32load8U: [0x2d, 0], i32load16S: [0x2e, 1], i32load16U: [0x2f, 1] } as const;
const STORES = { i32store: [0x36, 2], i32store8: [0x3a, 0], i32store16: [0x3b, 1] } as const;

/** A function body's instructions, appended in order; control structures must balance (checked by bytes()). */
export class Code {
  readonly out: number[] = [];
  private depth = 0;
  op(...ops: number[]): this { this.out.push(...ops); return this; }
  i32(v: number): this { this.out.push(0x41, ...sleb(v)); return this; }
  get(local: number): this { this.out.push(0x20, ...uleb(local)); return this; }
  set(local: number): this { this.out.push(0x21, ...uleb(local)); return this; }
  tee(local: number): this { this.out.push(0x22, ...uleb(local)); return this; }
  load(kind: keyof typeof LOADS, offset = 0): this { const [op, a] = LOADS[kind]; this.out.push(op, a, ...uleb(offset)); return this; }
  store(kind: keyof typeof STORES, offset = 0): this { const [op, a] = STORES[kind]; this.out.push(op, a, ...uleb(offset)); return this; }
  block(): this { this.depth++; this.out.push(0x02, VOID); return this; }
  loop(): this { this.depth++; this.out.push(0x03, VOID); return this; }
  if(): this { this.depth++; this.out.push(0x04, VOID); return this; }
  else(): this { if (this.depth === 0) throw new Error('else outside a block'); this.out.push(0x05); return this; }
  end(): this { if (this.depth === 0) throw new Error('end without a block'); this.depth--; this.out.push(0x0b); return this; }
  br(label: number): this { this.out.push(0x0c, ...uleb(label)); return this; }
  brIf(label: number): this { this.out.push(0x0d, ...uleb(label)); return this; }
  call(func: number): this { this.out.push(0x10, ...uleb(func)); return this; }
  /** Tail call (the tail-call extension, WebAssembly 3.0 return_call). */
  returnCall(func: number): this { this.out.push(0x12, ...uleb(func)); return this; }
  /** Tail call through table 0 with function type `type` (return_call_indirect); the table index on the stack. */
  returnCallIndirect(type: number): this { this.out.push(0x13, ...uleb(type), 0x00); return this; }
  /** The body's bytes, with the final `end`. */
  bytes(): number[] {
    if (this.depth !== 0) throw new Error(`${this.depth} block(s) not ended`);
    const b = this.out.slice();
    b.push(0x0b);
    return b;
  }
}

function append(dst: number[], src: number[]): void { for (let k = 0; k < src.length; k++) dst.push(src[k]); }
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => { const b = [...new TextEncoder().encode(s)]; return [...uleb(b.length), ...b]; };
const section = (id: number, body: number[]): number[] => (body.length === 0 ? [] : [id, ...uleb(body.length), ...body]);

/** A module under construction: function types, imports (functions and one memory), functions, exports. */
export class ModuleBuilder {
  private readonly types: number[][] = [];
  private readonly funcImports: number[][] = [];
  private memImport: number[] | null = null;
  private tableImport: number[] | null = null;
  private readonly funcs: { type: number; locals: number; code: Code }[] = [];
  private readonly exports: number[][] = [];

  /** The index of the function type (params) -> (results), all i32; equal types share one index. */
  type(params: number, results: number): number {
    const t = [0x60, ...vec(Array.from({ length: params }, () => [I32])), ...vec(Array.from({ length: results }, () => [I32]))];
    const at = this.types.findIndex((x) => x.length === t.length && x.every((b, i) => b === t[i]));
    if (at >= 0) return at;
    this.types.push(t);
    return this.types.length - 1;
  }

  /** Imports a function (its index: imports come before the module's own functions). */
  importFunc(module: string, field: string, params: number, results: number): number {
    if (this.funcs.length !== 0) throw new Error('function imports come before functions');
    this.funcImports.push([...name(module), ...name(field), 0x00, ...uleb(this.type(params, results))]);
    return this.funcImports.length - 1;
  }

  /** Imports a memory of `pages` 64 KiB pages, fixed size (no grow: views over it stay valid). */
  importMemory(module: string, field: string, pages: number): void {
    this.memImport = [...name(module), ...name(field), 0x02, 0x01, ...uleb(pages), ...uleb(pages)];
  }

  /** Imports a growable table of function references (table 0) of at least `min` entries. */
  importTable(module: string, field: string, min: number): void {
    this.tableImport = [...name(module), ...name(field), 0x01, 0x70, 0x00, ...uleb(min)];
  }

  /** Adds a function with `locals` i32 locals after its parameters; returns its index. */
  func(params: number, results: number, locals: number, code: Code): number {
    this.funcs.push({ type: this.type(params, results), locals, code });
    return this.funcImports.length + this.funcs.length - 1;
  }

  export(field: string, func: number): void { this.exports.push([...name(field), 0x00, ...uleb(func)]); }

  bytes(): Uint8Array {
    const imports = [...this.funcImports, ...(this.tableImport ? [this.tableImport] : []), ...(this.memImport ? [this.memImport] : [])];
    // Function bodies can be tens of kilobytes: appended with loops, not spread.
    const bodies = this.funcs.map((f) => {
      const head = f.locals > 0 ? vec([[...uleb(f.locals), I32]]) : uleb(0);
      const code = f.code.bytes();
      const out = uleb(head.length + code.length);
      append(out, head);
      append(out, code);
      return out;
    });
    const parts = [
      [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
      section(1, this.types.length ? vec(this.types) : []),
      section(2, imports.length ? vec(imports) : []),
      section(3, this.funcs.length ? vec(this.funcs.map((f) => uleb(f.type))) : []),
      section(7, this.exports.length ? vec(this.exports) : []),
    ];
    let n = 0;
    for (const p of parts) n += p.length;
    let codeLen = uleb(bodies.length).length;
    for (const b of bodies) codeLen += b.length;
    const codeHead = bodies.length ? [10, ...uleb(codeLen), ...uleb(bodies.length)] : [];
    const out = new Uint8Array(n + codeHead.length + (bodies.length ? codeLen - uleb(bodies.length).length : 0));
    let at = 0;
    for (const p of [...parts, codeHead, ...bodies]) { out.set(p, at); at += p.length; }
    return out;
  }
}
