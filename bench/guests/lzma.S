# The LZMA range-decoder bit loop of mpi.S on its own (bench/wasm-region.ts, BENCH_GUEST=lzma).
# Build: as --32 lzma.S -o /tmp/lzma.o && ld -m elf_i386 -Ttext 0x10000 --oformat binary /tmp/lzma.o -o lzma.bin
	.intel_syntax noprefix
	.code32
	mov esp, 0x80000
outer:
	mov edi, 0x23000
	mov ebp, 0xffffffff
	mov esi, 0x12345678
	mov ebx, 1
	mov ecx, 256
bit:
	push ecx
	and ebx, 0xff
	lea eax, [0x22000 + ebx * 2]
	cmp ebp, 0xffffff
	ja 1f
	shl ebp, 8
	shl esi, 8
	movzx edx, byte ptr [edi]
	or esi, edx
	inc edi
	and edi, 0x23fff
1:	mov edx, ebp
	shr edx, 11
	movzx ecx, word ptr [eax]
	imul edx, ecx
	cmp esi, edx
	jae 2f
	mov ebp, edx
	mov edx, 0x800
	sub edx, ecx
	shr edx, 5
	add word ptr [eax], dx
	add ebx, ebx
	jmp 3f
2:	sub ebp, edx
	sub esi, edx
	mov edx, ecx
	shr edx, 5
	sub word ptr [eax], dx
	lea ebx, [ebx + ebx + 1]
3:	pop ecx
	dec ecx
	jnz bit
	jmp outer
