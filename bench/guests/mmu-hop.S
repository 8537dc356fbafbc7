# MMU benchmark guest: page-hopping reads over 256 pages at linear 0x400000 (32-bit flat, paging set up by bench/mmu.ts).
# Build: as --32 mmu-hop.S -o /tmp/h.o && ld -m elf_i386 -Ttext 0x10000 --oformat binary /tmp/h.o -o /dev/stdout | od -An -tx1  (bytes embedded in bench/mmu.ts)
	.intel_syntax noprefix
	.code32
	mov esi, 0x400000
1:	mov eax, [esi]
	add esi, 0x1000
	and esi, 0x4ff000
	jmp 1b
