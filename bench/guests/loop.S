# CPU microbenchmark guest: a mix of ALU, memory and branch instructions (32-bit flat).
# Build: as --32 loop.S -o /tmp/loop.o && ld -m elf_i386 -Ttext 0x10000 --oformat binary /tmp/loop.o -o loop.bin
	.intel_syntax noprefix
	.code32
	mov ecx, 0x7fffffff
	mov esi, 0x20000
	xor ebx, ebx
	xor edx, edx
1:	mov eax, [esi]
	add eax, ecx
	xor edx, eax
	mov [esi + 4], eax
	add esi, 4
	and esi, 0xfff
	or esi, 0x20000
	shl edx, 1
	lea edi, [ebx + edx * 2 + 8]
	inc ebx
	cmp ebx, eax
	jne 2f
	nop
2:	push edx
	pop edx
	movzx eax, byte ptr [esi + 1]
	dec ecx
	jnz 1b
	hlt
