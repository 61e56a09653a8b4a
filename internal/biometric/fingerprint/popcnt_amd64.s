#include "textflag.h"

// func hammingRunPOPCNT(a *cylBits, b []cylBits, out []uint32)
//
// out[k] = popcount(a XOR b[k]) over the 11 words of a cylinder, for every
// k < len(b). Each POPCNTQ writes the register it reads (no false
// dependency); the words are summed in two chains.
TEXT ·hammingRunPOPCNT(SB), NOSPLIT, $0-56
	MOVQ a+0(FP), R8
	MOVQ b_base+8(FP), SI
	MOVQ b_len+16(FP), CX
	MOVQ out_base+32(FP), DI
	TESTQ CX, CX
	JZ   done

loop:
	MOVQ    0(R8), AX
	XORQ    0(SI), AX
	POPCNTQ AX, AX
	MOVQ    8(R8), BX
	XORQ    8(SI), BX
	POPCNTQ BX, BX
	MOVQ    16(R8), DX
	XORQ    16(SI), DX
	POPCNTQ DX, DX
	MOVQ    24(R8), R9
	XORQ    24(SI), R9
	POPCNTQ R9, R9
	ADDQ    DX, AX
	ADDQ    R9, BX
	MOVQ    32(R8), DX
	XORQ    32(SI), DX
	POPCNTQ DX, DX
	MOVQ    40(R8), R9
	XORQ    40(SI), R9
	POPCNTQ R9, R9
	MOVQ    48(R8), R10
	XORQ    48(SI), R10
	POPCNTQ R10, R10
	MOVQ    56(R8), R11
	XORQ    56(SI), R11
	POPCNTQ R11, R11
	ADDQ    DX, AX
	ADDQ    R9, BX
	ADDQ    R10, AX
	ADDQ    R11, BX
	MOVQ    64(R8), DX
	XORQ    64(SI), DX
	POPCNTQ DX, DX
	MOVQ    72(R8), R9
	XORQ    72(SI), R9
	POPCNTQ R9, R9
	MOVQ    80(R8), R10
	XORQ    80(SI), R10
	POPCNTQ R10, R10
	ADDQ    DX, AX
	ADDQ    R9, BX
	ADDQ    R10, AX
	ADDQ    BX, AX
	MOVL    AX, (DI)
	ADDQ    $88, SI
	ADDQ    $4, DI
	DECQ    CX
	JNZ     loop

done:
	RET
