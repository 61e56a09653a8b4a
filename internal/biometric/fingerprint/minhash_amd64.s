#include "textflag.h"

// func minhashSSE41(rank *[704][48]uint16, pos []uint16, out *[48]uint16)
//
// out[f] = min over p in pos of rank[p][f]: the 48 running minima stay in
// X0-X5 (8 uint16 lanes each); each position reads its 96-byte row.
TEXT ·minhashSSE41(SB), NOSPLIT, $0-40
	MOVQ rank+0(FP), SI
	MOVQ pos_base+8(FP), BX
	MOVQ pos_len+16(FP), CX
	MOVQ out+32(FP), DI
	PCMPEQW X0, X0
	MOVOU X0, X1
	MOVOU X0, X2
	MOVOU X0, X3
	MOVOU X0, X4
	MOVOU X0, X5
	TESTQ CX, CX
	JZ   done

loop:
	MOVWQZX (BX), AX
	IMULQ $96, AX
	ADDQ SI, AX
	MOVOU 0(AX), X12
	PMINUW X12, X0
	MOVOU 16(AX), X13
	PMINUW X13, X1
	MOVOU 32(AX), X14
	PMINUW X14, X2
	MOVOU 48(AX), X15
	PMINUW X15, X3
	MOVOU 64(AX), X12
	PMINUW X12, X4
	MOVOU 80(AX), X13
	PMINUW X13, X5
	ADDQ $2, BX
	DECQ CX
	JNZ  loop

done:
	MOVOU X0, 0(DI)
	MOVOU X1, 16(DI)
	MOVOU X2, 32(DI)
	MOVOU X3, 48(DI)
	MOVOU X4, 64(DI)
	MOVOU X5, 80(DI)
	RET
