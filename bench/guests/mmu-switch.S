# MMU benchmark guest: context-switch-heavy loop. Cycles CR3 through the 4 values at 0x9000 and, in each
# address space, reads and writes one dword in each of [0x9010] pages at linear 0x400000 (the working set).
# Build: as --32 mmu-switch.S -o /tmp/s.o && ld -m elf_i386 -Ttext 0x10000 --oformat binary /tmp/s.o -o /dev/stdout | od -An -tx1  (bytes embedded in bench/mmu.ts)
	.intel_syntax noprefix
	.code32
	xor edi, edi
1:	mov eax, [0x9000 + edi * 4]
	mov cr3, eax
	mov esi, 0x400000
	mov ecx, [0x9010]
2:	mov eax, [esi]
	add eax, 1
	mov [esi], eax
	add esi, 0x1000
	dec ecx
	jnz 2b
	inc edi
	and edi, 3
	jmp 1b
