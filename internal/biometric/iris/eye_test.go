package iris

import (
	"image"
	"math"
	"math/rand/v2"
)

// eyeSpec describes a synthetic eye image: known circles, an iris texture
// that belongs to the eye (seed), and capture conditions.
type eyeSpec struct {
	w, h        int
	px, py, pr  float64 // pupil
	ix, iy, ir  float64 // limbus
	seed        uint64  // texture identity
	rotation    float64 // radians added to the texture angle
	upperLid    float64 // y of the upper eyelid at the iris centre; 0 = none
	lowerLid    float64 // y of the lower eyelid; 0 = none
	noise       float64 // std of pixel noise
	highlights  int     // specular spots in the pupil and iris
	captureSeed uint64  // noise, highlights
}

// texture returns the iris intensity at normalised radius rho in [0,1] and
// angle theta for eye seed: a sum of random angular-radial waves.
type texture struct {
	amp, kTheta, kRho, phase []float64
}

func newTexture(seed uint64) texture {
	rng := rand.New(rand.NewPCG(seed, 99))
	var t texture
	for range 40 {
		t.amp = append(t.amp, 2+rng.Float64()*3)
		t.kTheta = append(t.kTheta, float64(4+rng.IntN(28)))
		t.kRho = append(t.kRho, rng.Float64()*8)
		t.phase = append(t.phase, rng.Float64()*2*math.Pi)
	}
	return t
}

func (t texture) at(rho, theta float64) float64 {
	v := 110.0
	for i := range t.amp {
		v += t.amp[i] * math.Sin(t.kTheta[i]*theta+t.kRho[i]*rho*2*math.Pi+t.phase[i])
	}
	return v
}

// render draws the eye.
func (s eyeSpec) render() *image.Gray {
	img := image.NewGray(image.Rect(0, 0, s.w, s.h))
	tex := newTexture(s.seed)
	rng := rand.New(rand.NewPCG(s.captureSeed, 5))
	type spot struct{ x, y, r float64 }
	var spots []spot
	for range s.highlights {
		a := rng.Float64() * 2 * math.Pi
		d := s.pr * (0.3 + rng.Float64()*0.5)
		spots = append(spots, spot{s.px + d*math.Cos(a), s.py + d*math.Sin(a), 3 + rng.Float64()*3})
	}
	for y := range s.h {
		for x := range s.w {
			fx, fy := float64(x), float64(y)
			v := 200.0 // sclera
			dp := math.Hypot(fx-s.px, fy-s.py)
			di := math.Hypot(fx-s.ix, fy-s.iy)
			switch {
			case dp <= s.pr:
				v = 25
			case di <= s.ir:
				theta := math.Atan2(fy-s.py, fx-s.px)
				// Radius of the limbus along this ray from the pupil centre.
				cs, sn := math.Cos(theta), math.Sin(theta)
				ox, oy := s.px-s.ix, s.py-s.iy
				b := ox*cs + oy*sn
				rl := -b + math.Sqrt(b*b-(ox*ox+oy*oy-s.ir*s.ir))
				rho := (dp - s.pr) / (rl - s.pr)
				v = tex.at(rho, theta-s.rotation)
			}
			if lid := s.upperLid + 0.002*(fx-s.ix)*(fx-s.ix); s.upperLid > 0 && fy < lid {
				v = 170 // skin
			} else if s.upperLid > 0 && fy < lid+18 && (int(fx)+int(fy)/3)%11 < 2 {
				v = 40 // eyelashes hanging over the iris
			}
			if s.lowerLid > 0 && fy > s.lowerLid-0.0015*(fx-s.ix)*(fx-s.ix) {
				v = 165
			}
			for _, sp := range spots {
				if math.Hypot(fx-sp.x, fy-sp.y) <= sp.r {
					v = 255
				}
			}
			v += rng.NormFloat64() * s.noise
			img.Pix[y*img.Stride+x] = uint8(min(max(v, 0), 255))
		}
	}
	return img
}

// baseEye is a CASIA-like eye: 320x280, pupil r 40, iris r 105.
func baseEye(seed uint64) eyeSpec {
	return eyeSpec{w: 320, h: 280, px: 160, py: 140, pr: 40, ix: 158, iy: 141, ir: 105,
		seed: seed, upperLid: 60, lowerLid: 235, noise: 3, highlights: 2, captureSeed: seed*31 + 1}
}
