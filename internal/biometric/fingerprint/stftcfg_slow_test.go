package fingerprint

import (
	"fmt"
	"os"
	"strings"
)

// ASSENT_FP_STFT sets the STFT enhancement variant for the explore harness
// (ninth pass of issue 17), e.g. "mode=1,ang=0.39,angl=1.05,rbw=0.6".
func init() {
	if v := os.Getenv("ASSENT_FP_STFT2"); v != "" {
		fastCfg.on = true
		for _, kv := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(kv, "=")
			var x float64
			fmt.Sscan(val, &x)
			switch k {
			case "on":
				fastCfg.on = x != 0
			case "ang":
				fastCfg.angBW = x
			case "angl":
				fastCfg.angBWLow = x
			case "rbw":
				fastCfg.radBW = x
			case "along":
				fastCfg.sAlong = x
			case "refine":
				fastCfg.refine = int(x)
			case "firstbw":
				fastCfg.firstBW = x
			case "gabor":
				fastCfg.gabor = int(x)
			case "period":
				fastCfg.period = int(x)
			case "sector":
				fastCfg.sector = x
			case "qual":
				fastCfg.qual = int(x)
			case "clar":
				fastCfg.clarity = x
			case "rsmooth":
				fastCfg.rsmooth = int(x)
			case "replace":
				fastCfg.replace = x != 0
			case "sref":
				fastCfg.specRefine = int(x)
			case "ssmooth":
				fastCfg.specSmooth = int(x)
			case "incr":
				fastCfg.incr = x != 0
			case "smooth0":
				fastCfg.smooth0 = int(x)
			case "holes":
				fastCfg.holes = x
			case "dirsmooth":
				fastCfg.dirSmooth = int(x)
			case "gauss":
				fastCfg.gaussAcross = x
			case "ninterp":
				fastCfg.normInterp = x != 0
			case "gaborabove":
				fastCfg.gaborAbove = x
			case "gf":
				fastCfg.gaborFinal = x != 0
			case "close":
				fastCfg.closeR = int(x)
			case "closealong":
				fastCfg.closeAlong = int(x)
			case "texture":
				fastCfg.texture = x
			case "mix":
				fastCfg.mixGabor = x
			case "maxmin":
				fastCfg.maxMin = int(x)
			case "holespx":
				fastCfg.holesPx = int(x)
			default:
				panic("ASSENT_FP_STFT2: unknown key " + k)
			}
		}
	}
	v := os.Getenv("ASSENT_FP_STFT")
	if v == "" {
		return
	}
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		var x float64
		fmt.Sscan(val, &x)
		switch k {
		case "mode":
			stftCfg.mode = int(x)
		case "ang":
			stftCfg.angBW = x
		case "angl":
			stftCfg.angBWLow = x
		case "rbw":
			stftCfg.radBW = x
		case "order":
			stftCfg.order = int(x)
		case "unclear":
			stftCfg.unclear = x
		case "smooth":
			stftCfg.smooth = int(x)
		case "pw":
			stftCfg.pw = int(x)
		case "gclar":
			stftCfg.gclar = x != 0
		case "speriod":
			stftCfg.speriod = x != 0
		case "wola":
			stftCfg.wola = x != 0
		case "holes":
			stftCfg.holes = int(x)
		case "energy":
			stftCfg.energy = x != 0
		case "hop":
			stftCfg.hop = int(x)
		default:
			panic("ASSENT_FP_STFT: unknown key " + k)
		}
	}
}
