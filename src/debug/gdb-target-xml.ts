// The target description served through `qXfer:features:read:target.xml` (gdb manual,
// "Target Descriptions" and "i386 Features"). gdb's i386 architecture requires the
// `org.gnu.gdb.i386.core` feature with the sixteen integer registers *and* the x87
// registers (i386_validate_tdesc_p counts the x87 set as core); ts86 serves the first
// sixteen in `g` and reports the x87 ones as unavailable, so they are listed here only
// to keep the numbering gdb expects. No SSE feature: the interpreter has no SSE yet.
// A second feature, `org.ts86.i386.control`, adds CR0/CR2/CR3/CR4 as registers 32..35
// (group "system"), so `info registers cr0` and `p/x $cr3` work in gdb.

/** Register numbers in gdb's i386 order; `g`/`G` carry exactly these sixteen. */
export const GDB_CORE_REGS = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip', 'eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs'] as const;
export type GdbCoreReg = (typeof GDB_CORE_REGS)[number];

/** Byte sizes of the x87 registers that follow the core ones (numbers 16..31). */
export const GDB_X87_REG_SIZES: readonly number[] = [10, 10, 10, 10, 10, 10, 10, 10, 4, 4, 4, 4, 4, 4, 4, 4];

/** The control registers after the x87 ones (numbers 32..35). */
export const GDB_CONTROL_REGS = ['cr0', 'cr2', 'cr3', 'cr4'] as const;
export const GDB_CONTROL_REG_BASE = 32;

const EFLAGS_FIELDS: [string, number][] = [
  ['CF', 0], ['', 1], ['PF', 2], ['AF', 4], ['ZF', 6], ['SF', 7], ['TF', 8], ['IF', 9], ['DF', 10], ['OF', 11],
  ['NT', 14], ['RF', 16], ['VM', 17], ['AC', 18], ['VIF', 19], ['VIP', 20], ['ID', 21],
];

function reg(name: string, bits: number, type: string, group?: string): string {
  return `    <reg name="${name}" bitsize="${bits}" type="${type}"${group ? ` group="${group}"` : ''}/>\n`;
}

function buildTargetXml(): string {
  let x = '<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n<target version="1.0">\n';
  x += '  <architecture>i386</architecture>\n';
  x += '  <feature name="org.gnu.gdb.i386.core">\n';
  x += '    <flags id="i386_eflags" size="4">\n';
  for (const [n, b] of EFLAGS_FIELDS) x += `      <field name="${n}" start="${b}" end="${b}"/>\n`;
  x += '    </flags>\n';
  for (const n of ['eax', 'ecx', 'edx', 'ebx']) x += reg(n, 32, 'int32');
  x += reg('esp', 32, 'data_ptr') + reg('ebp', 32, 'data_ptr') + reg('esi', 32, 'int32') + reg('edi', 32, 'int32');
  x += reg('eip', 32, 'code_ptr') + reg('eflags', 32, 'i386_eflags');
  for (const n of ['cs', 'ss', 'ds', 'es', 'fs', 'gs']) x += reg(n, 32, 'int32');
  for (let i = 0; i < 8; i++) x += reg(`st${i}`, 80, 'i387_ext');
  for (const n of ['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop']) x += reg(n, 32, 'int', 'float');
  x += '  </feature>\n';
  x += '  <feature name="org.ts86.i386.control">\n';
  GDB_CONTROL_REGS.forEach((n, k) => { x += `    <reg name="${n}" bitsize="32" type="int32" regnum="${GDB_CONTROL_REG_BASE + k}" group="system"/>\n`; });
  x += '  </feature>\n</target>\n';
  return x;
}

export const I386_TARGET_XML = buildTargetXml();
