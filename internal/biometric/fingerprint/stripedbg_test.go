package fingerprint

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
)

func TestStripeDebug(t *testing.T) {
	in := os.Getenv("ASSENT_STRIPE_IMAGE")
	if in == "" {
		t.Skip()
	}
	raw, _ := os.ReadFile(in)
	img, _ := DecodeImage(raw)
	pix, _ := greyPixels(img)
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	_, f, _, _ := extractMinutiae(pix, w, h)
	st := make([]bool, len(f.mask))
	var b strings.Builder
	for by := range f.bh {
		for bx := range f.bw {
			k := by*f.bw + bx
			o := int(math.Round(f.orient[k]/math.Pi*8)) % 8
			ch := byte('0' + o)
			if !f.mask[k] {
				ch = '.'
			}
			if st[k] {
				ch = 'S'
			}
			b.WriteByte(ch)
		}
		b.WriteByte('\n')
	}
	fmt.Println(b.String())
}
