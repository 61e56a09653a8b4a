package iris

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestTune evaluates ASSENT_IRIS_DATA with parameters overridden by
// ASSENT_IRIS_TUNE ("name=value,..."); a development aid for choosing the
// single default parameter set.
func TestTune(t *testing.T) {
	dir, spec := os.Getenv("ASSENT_IRIS_DATA"), os.Getenv("ASSENT_IRIS_TUNE")
	if dir == "" || spec == "" {
		t.Skip("set ASSENT_IRIS_DATA and ASSENT_IRIS_TUNE to tune parameters")
	}
	c := defaultConfig()
	for _, kv := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatal(err)
		}
		switch k {
		case "wavelength":
			c.wavelength = f
		case "sigmaOnF":
			c.sigmaOnF = f
		case "rhoMin":
			c.rhoMin = f
		case "rhoMax":
			c.rhoMax = f
		case "fragile":
			c.fragile = f
		case "brightK":
			c.brightK = f
		case "darkK":
			c.darkK = f
		case "lashK":
			c.lashK = f
		case "scale2":
			c.scale2 = f
		case "lashRun":
			c.lashRun = int(f)
		case "maskFrac":
			c.maskFrac = f
		default:
			t.Fatalf("unknown parameter %q", k)
		}
	}
	r, err := evaluate(context.Background(), dir, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TUNE %s eer=%.4f fmr1000=%.4f fmr10000=%.4f zero=%.4f fte=%.4f gmean=%.3f imean=%.3f istd=%.4f dof=%.0f d'=%.2f m1=%.3f k=%.1f",
		spec, r.EER, r.FMR1000, r.FMR10000, r.ZeroFMR, r.FTE, r.GenuineMean, r.ImpostorMean, r.ImpostorStd, r.ImpostorDOF, r.Decidability, r.ImpostorSingleMean, r.EffectiveShifts)
}

// TestCoarseVariants measures the coarse pass on ASSENT_IRIS_DATA for a few
// word strides and shift steps; a development aid.
func TestCoarseVariants(t *testing.T) {
	dir := os.Getenv("ASSENT_IRIS_DATA")
	if dir == "" || os.Getenv("ASSENT_IRIS_COARSE") == "" {
		t.Skip("set ASSENT_IRIS_DATA and ASSENT_IRIS_COARSE to compare coarse-pass variants")
	}
	r, err := evaluate(context.Background(), dir, defaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []GalleryOptions{{CoarseStride: 2, CoarseStep: 3}, {CoarseStride: 2, CoarseStep: 2}, {CoarseStride: 4, CoarseStep: 2}, {CoarseStride: 1, CoarseStep: 3}, {CoarseStride: 3, CoarseStep: 2}} {
		var x EvalResult
		coarseCheck(&x, r.samples, DefaultMatcher(), v)
		t.Logf("stride %d step %d: %+v", v.CoarseStride, v.CoarseStep, x.Coarse)
	}
}
