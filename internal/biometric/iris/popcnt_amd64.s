#include "textflag.h"

// func maskedPOPCNT(p, e []uint64) (diff, n int)
//
// For each word pair i of e (code e[2i], mask e[2i+1]) and of p:
//   m = p[2i+1] & e[2i+1]; diff += popcount((p[2i] ^ e[2i]) & m); n += popcount(m)
// two pairs per iteration into two sets of sums. POPCNTQ writes the
// register it reads, so no false dependency carries between iterations.
TEXT ·maskedPOPCNT(SB), NOSPLIT, $0-64
	MOVQ p_base+0(FP), SI
	MOVQ e_base+24(FP), DI
	MOVQ e_len+32(FP), CX
	SHRQ $1, CX // word pairs
	XORQ AX, AX // diff, even pairs
	XORQ BX, BX // n, even pairs
	XORQ R10, R10 // diff, odd pairs
	XORQ R11, R11 // n, odd pairs
	CMPQ CX, $2
	JB   tail

loop:
	MOVQ    8(SI), R8
	ANDQ    8(DI), R8
	MOVQ    (SI), R9
	XORQ    (DI), R9
	ANDQ    R8, R9
	POPCNTQ R9, R9
	ADDQ    R9, AX
	POPCNTQ R8, R8
	ADDQ    R8, BX
	MOVQ    24(SI), R12
	ANDQ    24(DI), R12
	MOVQ    16(SI), R13
	XORQ    16(DI), R13
	ANDQ    R12, R13
	POPCNTQ R13, R13
	ADDQ    R13, R10
	POPCNTQ R12, R12
	ADDQ    R12, R11
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $2, CX
	CMPQ    CX, $2
	JAE     loop

tail:
	TESTQ   CX, CX
	JZ      done
	MOVQ    8(SI), R8
	ANDQ    8(DI), R8
	MOVQ    (SI), R9
	XORQ    (DI), R9
	ANDQ    R8, R9
	POPCNTQ R9, R9
	ADDQ    R9, AX
	POPCNTQ R8, R8
	ADDQ    R8, BX

done:
	ADDQ R10, AX
	ADDQ R11, BX
	MOVQ AX, diff+48(FP)
	MOVQ BX, n+56(FP)
	RET
