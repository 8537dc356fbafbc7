# The LZMA range-decoder bit loop of mpi.S on its own (bench/wasm-region.ts, BENCH_GUEST=lzma).
# Build (in bench/guests: the loop comes from lzma-bits.inc): as --32 lzma.S -o /tmp/lzma.o && ld -m elf_i386 -Ttext 0x10000 --oformat binary /tmp/lzma.o -o lzma.bin
	.intel_syntax noprefix
	.code32
	mov esp, 0x80000
outer:
	.include "lzma-bits.inc"
	jmp outer
