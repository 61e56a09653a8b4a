#include "textflag.h"

// func prefetch(p *byte)
//
// Asks for the cache line holding *p (PREFETCHT0); never faults.
TEXT ·prefetch(SB), NOSPLIT, $0-8
	MOVQ       p+0(FP), AX
	PREFETCHT0 (AX)
	RET
