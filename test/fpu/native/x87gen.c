/*
 * x87gen: runs x87 instructions natively for test/fpu/host-compare.test.ts.
 *
 * Input, one case per line (all numbers hex):
 *   OP CW ASE AM BSE BM
 * ST(0) := A and ST(1) := B as 80-bit values (sign/exponent word, 64-bit
 * significand), loaded with FLD m80 (which raises no exception), after FNINIT
 * and FLDCW CW, then FNCLEX. For the load ops, AM holds the memory operand bits.
 * Output, one line per case:
 *   SW TW R0SE R0M R1SE R1M MEM EFL
 * SW = status word right after the instruction (FNSTSW); TW, R0, R1 = tag word,
 * ST(0) and ST(1) from an FNSAVE image taken right after (FNSTSW and FNSAVE are
 * non-waiting, so unmasked exceptions can be examined without taking #MF);
 * MEM = the memory result of store ops (up to 10 bytes, little-endian, as hex of
 * the bytes from the highest address down); EFL = RFLAGS & 0x8d5 after FCOMI.
 *
 * Build: gcc -O1 -o x87gen x87gen.c   (x86-64; the x87 is the same in 64-bit mode)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

typedef struct { uint64_t m; uint16_t se; } __attribute__((packed)) f80;

static f80 A, B, R0, R1;
static unsigned char IMG[108];
static uint32_t ENV[7];
static uint16_t CW, SW;
static unsigned char MEM[16];
static uint64_t FL;

#define PRE "fninit\n fldcw %[cw]\n fldt %[b]\n fldt %[a]\n fnclex\n"
#define IO [cw] "m"(CW), [a] "m"(A), [b] "m"(B), [m] "m"(MEM)
#define OUTS [sw] "=m"(SW), [img] "=m"(IMG), [fl] "=m"(FL)
#define CLOB "ax", "memory", "cc", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)"

/* instruction leaving one result, two results, none */
#define POST "\n fnstsw %[sw]\n fnsave %[img]\n fninit\n"
#define OP1(code) asm volatile(PRE code POST : OUTS : IO : CLOB)
#define OP2(code) OP1(code)
#define OP0(code) OP1(code)
/* loads from MEM: no stack preload */
#define LD(code) asm volatile("fninit\n fldcw %[cw]\n fnclex\n" code POST : OUTS : IO : CLOB)
/* stores write MEM (through a register pointer so any width works) */
#define ST(code) OP1(code)

int main(void) {
  char op[32];
  unsigned cw, ase, bse;
  unsigned long long am, bm;
  while (scanf("%31s %x %x %llx %x %llx", op, &cw, &ase, &am, &bse, &bm) == 6) {
    CW = (uint16_t)cw; A.se = (uint16_t)ase; A.m = am; B.se = (uint16_t)bse; B.m = bm;
    memset(&R0, 0, sizeof R0); memset(&R1, 0, sizeof R1); memset(MEM, 0, sizeof MEM); FL = 0;
    SW = 0;
#define C(name, stmt) else if (!strcmp(op, name)) { stmt; }
    if (0) {}
    C("fadd", OP1(".byte 0xd8,0xc1"))
    C("fmul", OP1(".byte 0xd8,0xc9"))
    C("fsub", OP1(".byte 0xd8,0xe1"))
    C("fsubr", OP1(".byte 0xd8,0xe9"))
    C("fdiv", OP1(".byte 0xd8,0xf1"))
    C("fdivr", OP1(".byte 0xd8,0xf9"))
    C("fsqrt", OP1(".byte 0xd9,0xfa"))
    C("frndint", OP1(".byte 0xd9,0xfc"))
    C("fscale", OP1(".byte 0xd9,0xfd"))
    C("fprem", OP1(".byte 0xd9,0xf8"))
    C("fprem1", OP1(".byte 0xd9,0xf5"))
    C("fxtract", OP2(".byte 0xd9,0xf4"))
    C("fchs", OP1(".byte 0xd9,0xe0"))
    C("fabs", OP1(".byte 0xd9,0xe1"))
    C("fxam", OP0(".byte 0xd9,0xe5"))
    C("ftst", OP0(".byte 0xd9,0xe4"))
    C("fcom", OP0(".byte 0xd8,0xd1"))
    C("fucom", OP0(".byte 0xdd,0xe1"))
    C("fcomp", OP0(".byte 0xd8,0xd9"))
    C("fcompp", OP0(".byte 0xde,0xd9"))
    C("fucompp", OP0(".byte 0xda,0xe9"))
    C("fcomip", OP0(".byte 0xdf,0xf1\n pushfq\n popq %[fl]"))
    C("fcomi", OP0(".byte 0xdb,0xf1\n pushfq\n popq %[fl]"))
    C("fucomi", OP0(".byte 0xdb,0xe9\n pushfq\n popq %[fl]"))
    C("fsin", OP1(".byte 0xd9,0xfe"))
    C("fcos", OP1(".byte 0xd9,0xff"))
    C("fsincos", OP2(".byte 0xd9,0xfb"))
    C("fptan", OP2(".byte 0xd9,0xf2"))
    C("fpatan", OP1(".byte 0xd9,0xf3"))
    C("f2xm1", OP1(".byte 0xd9,0xf0"))
    C("fyl2x", OP1(".byte 0xd9,0xf1"))
    C("fyl2xp1", OP1(".byte 0xd9,0xf9"))
    C("fld1", LD(".byte 0xd9,0xe8"))
    C("fldl2t", LD(".byte 0xd9,0xe9"))
    C("fldl2e", LD(".byte 0xd9,0xea"))
    C("fldpi", LD(".byte 0xd9,0xeb"))
    C("fldlg2", LD(".byte 0xd9,0xec"))
    C("fldln2", LD(".byte 0xd9,0xed"))
    C("fldz", LD(".byte 0xd9,0xee"))
    C("fst32", ST("fsts %[m]"))
    C("fst64", ST("fstl %[m]"))
    C("fist16", ST("fists %[m]"))
    C("fist32", ST("fistl %[m]"))
    C("fistp64", ST("fistpll %[m]"))
    C("fisttp16", ST("fisttps %[m]"))
    C("fisttp32", ST("fisttpl %[m]"))
    C("fisttp64", ST("fisttpll %[m]"))
    C("fbstp", ST("fbstp %[m]"))
    C("fld32", { memcpy(MEM, &am, 8); LD("flds %[m]"); })
    C("fld64", { memcpy(MEM, &am, 8); LD("fldl %[m]"); })
    C("fild16", { memcpy(MEM, &am, 8); LD("filds %[m]"); })
    C("fild32", { memcpy(MEM, &am, 8); LD("fildl %[m]"); })
    C("fild64", { memcpy(MEM, &am, 8); LD("fildll %[m]"); })
    C("fbld", { memcpy(MEM, &am, 8); memcpy(MEM + 8, &bm, 2); LD("fbld %[m]"); })

    /* memory-operand arithmetic: the operand bits come from BM */
#define M(name, insn) C(name, { memcpy(MEM, &bm, 8); OP1(insn " %[m]"); })
    M("fadd_m32", "fadds") M("fmul_m32", "fmuls") M("fsub_m32", "fsubs") M("fsubr_m32", "fsubrs")
    M("fdiv_m32", "fdivs") M("fdivr_m32", "fdivrs") M("fcom_m32", "fcoms") M("fcomp_m32", "fcomps")
    M("fadd_m64", "faddl") M("fsub_m64", "fsubl") M("fdivr_m64", "fdivrl") M("fcom_m64", "fcoml")
    M("fiadd_m16", "fiadds") M("fidiv_m16", "fidivs") M("ficom_m16", "ficoms")
    M("fiadd_m32", "fiaddl") M("fisubr_m32", "fisubrl") M("fidiv_m32", "fidivl") M("ficomp_m32", "ficompl")
    /* register forms with ST(i) as destination (DC) and popping forms (DE) */
    C("faddp", OP1(".byte 0xde,0xc1")) C("fmulp", OP1(".byte 0xde,0xc9"))
    C("fsubp", OP1(".byte 0xde,0xe9")) C("fsubrp", OP1(".byte 0xde,0xe1"))
    C("fdivp", OP1(".byte 0xde,0xf9")) C("fdivrp", OP1(".byte 0xde,0xf1"))
    C("fsub_dc", OP1(".byte 0xdc,0xe9")) C("fsubr_dc", OP1(".byte 0xdc,0xe1"))
    C("fdiv_dc", OP1(".byte 0xdc,0xf9")) C("fdivr_dc", OP1(".byte 0xdc,0xf1"))
    C("fxch", OP1(".byte 0xd9,0xc9")) C("fld_st1", OP1(".byte 0xd9,0xc1")) C("fstp_st1", OP1(".byte 0xdd,0xd9"))
    C("fst_st1", OP1(".byte 0xdd,0xd1"))
    /* reserved encodings that Intel CPUs execute as aliases */
    C("fstp1", OP1(".byte 0xd9,0xd9")) C("fcom2", OP1(".byte 0xdc,0xd1")) C("fcomp3", OP1(".byte 0xdc,0xd9"))
    C("fxch4", OP1(".byte 0xdd,0xc9")) C("fcomp5", OP1(".byte 0xde,0xd1")) C("fxch7", OP1(".byte 0xdf,0xc9"))
    C("fstp8", OP1(".byte 0xdf,0xd1")) C("fstp9", OP1(".byte 0xdf,0xd9"))
    /* stack faults: FFREE makes a register empty first; FLD ST(0) x6 fills the stack */
#define FILL ".byte 0xd9,0xc0,0xd9,0xc0,0xd9,0xc0,0xd9,0xc0,0xd9,0xc0,0xd9,0xc0\n"
    C("uf_fadd", OP1(".byte 0xdd,0xc1,0xd8,0xc1")) C("uf_faddp", OP1(".byte 0xdd,0xc0,0xde,0xc1"))
    C("uf_fsqrt", OP1(".byte 0xdd,0xc0,0xd9,0xfa")) C("uf_fcom", OP1(".byte 0xdd,0xc1,0xd8,0xd1"))
    C("uf_fcomp", OP1(".byte 0xdd,0xc1,0xd8,0xd9")) C("uf_fcomi", OP1(".byte 0xdd,0xc1,0xdb,0xf1\n pushfq\n popq %[fl]"))
    C("uf_fxch", OP1(".byte 0xdd,0xc1,0xd9,0xc9")) C("uf_fptan", OP1(".byte 0xdd,0xc0,0xd9,0xf2"))
    C("uf_fpatan", OP1(".byte 0xdd,0xc1,0xd9,0xf3")) C("uf_fxtract", OP1(".byte 0xdd,0xc0,0xd9,0xf4"))
    C("uf_fprem", OP1(".byte 0xdd,0xc1,0xd9,0xf8")) C("uf_fchs", OP1(".byte 0xdd,0xc0,0xd9,0xe0"))
    C("uf_fld", OP1(".byte 0xdd,0xc1,0xd9,0xc1")) C("uf_fst", OP1(".byte 0xdd,0xc0,0xdd,0xd1"))
    C("uf_fstp", OP1(".byte 0xdd,0xc0,0xdd,0xd9"))
    C("uf_fst32", OP1(".byte 0xdd,0xc0\n fstps %[m]")) C("uf_fist32", OP1(".byte 0xdd,0xc0\n fistpl %[m]"))
    C("uf_fbstp", OP1(".byte 0xdd,0xc0\n fbstp %[m]")) C("uf_fstp80", OP1(".byte 0xdd,0xc0\n fstpt %[m]"))
    C("uf_fxam", OP1(".byte 0xdd,0xc0,0xd9,0xe5"))
    C("of_fld1", OP1(FILL ".byte 0xd9,0xe8")) C("of_fld", OP1(FILL ".byte 0xd9,0xc1"))
    C("of_fld32", { memcpy(MEM, &bm, 8); OP1(FILL "flds %[m]"); })
    C("of_fptan", OP1(FILL ".byte 0xd9,0xf2")) C("of_fsincos", OP1(FILL ".byte 0xd9,0xfb"))
    C("of_fxtract", OP1(FILL ".byte 0xd9,0xf4"))
    /* FCMOVcc: RFLAGS CF/PF/ZF come from the low bits of BM (bit0 CF, bit2 PF, bit6 ZF) */
#define CMOV(name, b1, b2) C(name, { FL = bm & 0x45; asm volatile(PRE "pushfq\n andq $~0x45, (%%rsp)\n movq %[fl], %%rax\n orq %%rax, (%%rsp)\n popfq\n .byte " b1 "," b2 POST : [sw] "=m"(SW), [img] "=m"(IMG), [fl] "+m"(FL) : [cw] "m"(CW), [a] "m"(A), [b] "m"(B), [m] "m"(MEM) : CLOB); FL = 0; })
    CMOV("fcmovb", "0xda", "0xc1") CMOV("fcmove", "0xda", "0xc9") CMOV("fcmovbe", "0xda", "0xd1") CMOV("fcmovu", "0xda", "0xd9")
    CMOV("fcmovnb", "0xdb", "0xc1") CMOV("fcmovne", "0xdb", "0xc9") CMOV("fcmovnbe", "0xdb", "0xd1") CMOV("fcmovnu", "0xdb", "0xd9")
    C("uf_fcmovb", { FL = bm & 0x45; asm volatile(PRE ".byte 0xdd,0xc1\n pushfq\n andq $~0x45, (%%rsp)\n movq %[fl], %%rax\n orq %%rax, (%%rsp)\n popfq\n .byte 0xda,0xc1" POST : [sw] "=m"(SW), [img] "=m"(IMG), [fl] "+m"(FL) : [cw] "m"(CW), [a] "m"(A), [b] "m"(B), [m] "m"(MEM) : CLOB); FL = 0; })
    /* FLDENV of an image whose CW/SW/TW come from A's significand (bits 0-15, 16-31, 32-47):
       checks that ES/B and the tags are recomputed */
    C("fldenv", { memset(ENV, 0, sizeof ENV); ENV[0] = 0xffff0000u | (uint16_t)am; ENV[1] = 0xffff0000u | (uint16_t)(am >> 16);
                  ENV[2] = 0xffff0000u | (uint16_t)(am >> 32);
                  asm volatile(PRE "fldenv %[env]" POST : OUTS : IO, [env] "m"(ENV) : CLOB); })
    C("ffree", OP1(".byte 0xdd,0xc1")) C("ffreep", OP1(".byte 0xdf,0xc0"))
    C("fincstp", OP1(".byte 0xd9,0xf7")) C("fdecstp", OP1(".byte 0xd9,0xf6"))
    else { fprintf(stderr, "unknown op %s\n", op); return 2; }
    memcpy(&R0, IMG + 28, 10); memcpy(&R1, IMG + 38, 10);
    printf("%04x %04x %04x %016llx %04x %016llx ", SW, IMG[8] | (IMG[9] << 8), R0.se, (unsigned long long)R0.m, R1.se, (unsigned long long)R1.m);
    for (int i = 9; i >= 0; i--) printf("%02x", MEM[i]);
    printf(" %03llx\n", (unsigned long long)(FL & 0x8d5));
  }
  return 0;
}
