# CPU microbenchmark guest: the kernel's RSA self-test hot loop (lib/mpi mpihelp_submul_1 as
# gcc -O2 -m32 -mregparm=3 compiles the generic C: MUL r/m32, ADD/ADC/SUB with carries, loads
# and stores through scaled indexes, INC/JNZ) and an LZMA range-decoder bit loop like the
# bzImage XZ decompressor's (MOVZX word loads, IMUL, CMP/Jcc side exits, 16-bit RMW, shifts).
# Build (in bench/guests: the loop comes from lzma-bits.inc): as --32 mpi.S -o /tmp/mpi.o && ld -m elf_i386 -Ttext 0x10000 --oformat binary /tmp/mpi.o -o mpi.bin
	.intel_syntax noprefix
	.code32
	mov esp, 0x80000
outer:
	mov eax, 0x20000          # res_ptr
	mov edx, 0x21000          # s1_ptr
	mov ecx, 64               # s1_size
	push 0x9e3779b9           # s2_limb
	call submul
	add esp, 4
	# LZMA-like: 256 range-decoder bits over a probability table at 0x22000, input at 0x23000.
	.include "lzma-bits.inc"
	jmp outer

submul:
	push ebp
	push edi
	push esi
	push ebx
	mov ebx, ecx
	sub esp, 8
	neg ebx
	mov [esp + 4], eax
	mov eax, ecx
	xor ecx, ecx
	lea eax, [eax * 4]
	mov [esp], eax
	lea edi, [edx + eax]
4:	mov eax, [edi + ebx * 4]
	xor ebp, ebp
	mul dword ptr [esp + 0x1c]
	add ecx, eax
	jb 6f
5:	mov esi, [esp]
	mov eax, [esp + 4]
	add eax, esi
	mov esi, [eax + ebx * 4]
	sub esi, ecx
	mov ecx, ebp
	mov [eax + ebx * 4], esi
	adc ecx, edx
	inc ebx
	jne 4b
	add esp, 8
	mov eax, ecx
	pop ebx
	pop esi
	pop edi
	pop ebp
	ret
6:	mov ebp, 1
	jmp 5b
