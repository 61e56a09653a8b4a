package fingerprint

import (
	"math"
	"slices"
)

// Ring offsets of the 8 neighbours, clockwise from north: P2..P9 in the
// Zhang-Suen notation.
var ringDX = [8]int{0, 1, 1, 1, 0, -1, -1, -1}
var ringDY = [8]int{-1, -1, 0, 1, 1, 1, 0, -1}

// ringBits returns the ring of (x, y) as 8 bits, bit i set when the
// neighbour at ringDX[i], ringDY[i] is non-zero.
func ringBits(sk []uint8, w, x, y int) int {
	return ringAt(sk, w, y*w+x)
}

// ringAt is ringBits for the pixel at index p, which must not lie on the
// image's outer frame.
func ringAt(sk []uint8, w, p int) int {
	up, dn := sk[p-w-1:p-w+2], sk[p+w-1:p+w+2]
	return nz(up[1]) | nz(up[2])<<1 | nz(sk[p+1])<<2 | nz(dn[2])<<3 |
		nz(dn[1])<<4 | nz(dn[0])<<5 | nz(sk[p-1])<<6 | nz(up[0])<<7
}

// nz is 1 for a non-zero v, else 0.
func nz(v uint8) int {
	if v != 0 {
		return 1
	}
	return 0
}

// transitions counts 0->1 transitions around the ring (the crossing number).
func transitions(c int) int {
	a := 0
	for i := range 8 {
		if c>>i&1 == 0 && c>>((i+1)%8)&1 == 1 {
			a++
		}
	}
	return a
}

// thin reduces ridges of width >1 to one-pixel skeletons (Zhang and Suen
// 1984), then removes staircase pixels so every ridge pixel has two
// neighbours. sk is modified in place; its one-pixel frame is cleared.
func thin(sk []uint8, w, h int) {
	for x := range w {
		sk[x], sk[(h-1)*w+x] = 0, 0
	}
	for y := range h {
		sk[y*w], sk[y*w+w-1] = 0, 0
	}
	var del [2][256]bool
	for c := range 256 {
		bit := func(i int) int { return c >> (i - 2) & 1 }
		b := 0
		for i := range 8 {
			b += c >> i & 1
		}
		if b < 2 || b > 6 || transitions(c) != 1 {
			continue
		}
		del[0][c] = bit(2)*bit(4)*bit(6) == 0 && bit(4)*bit(6)*bit(8) == 0
		del[1][c] = bit(2)*bit(4)*bit(8) == 0 && bit(2)*bit(6)*bit(8) == 0
	}
	// Only ridge pixels can be deleted: each sub-iteration visits the list
	// of those left rather than the whole image (the same deletions).
	var live, kill []int32
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			if sk[y*w+x] != 0 {
				live = append(live, int32(y*w+x))
			}
		}
	}
	for {
		changed := false
		for step := range 2 {
			kill = kill[:0]
			for _, p := range live {
				if del[step][ringAt(sk, w, int(p))] {
					kill = append(kill, p)
				}
			}
			if len(kill) == 0 {
				continue
			}
			for _, p := range kill {
				sk[p] = 0
			}
			live = slices.DeleteFunc(live, func(p int32) bool { return sk[p] == 0 })
			changed = true
		}
		if !changed {
			break
		}
	}
	// Staircases: a pixel with two perpendicular 4-neighbours whose removal
	// keeps the neighbourhood connected is redundant.
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			if sk[y*w+x] == 0 {
				continue
			}
			c := ringBits(sk, w, x, y)
			n, e, s, wst := c&1 != 0, c&4 != 0, c&16 != 0, c&64 != 0
			if !((n && e) || (e && s) || (s && wst) || (wst && n)) {
				continue
			}
			if components8(c) == 1 && popcount8(c) >= 2 && transitions(c) <= 2 {
				sk[y*w+x] = 0
			}
		}
	}
}

func popcount8(c int) int {
	n := 0
	for i := range 8 {
		n += c >> i & 1
	}
	return n
}

// components8 counts 8-connected groups among the set ring neighbours.
func components8(c int) int {
	var parent [8]int
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			i = parent[i]
		}
		return i
	}
	for i := range 8 {
		if c>>i&1 == 0 {
			continue
		}
		for j := i + 1; j < 8; j++ {
			if c>>j&1 == 0 {
				continue
			}
			if abs(ringDX[i]-ringDX[j]) <= 1 && abs(ringDY[i]-ringDY[j]) <= 1 {
				parent[find(i)] = find(j)
			}
		}
	}
	n := 0
	for i := range 8 {
		if c>>i&1 != 0 && find(i) == i {
			n++
		}
	}
	return n
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// candidate is a minutia found on the skeleton, before filtering.
type candidate struct {
	x, y    int
	typ     uint8
	dir     float64
	quality float64
	dead    bool
}

// traceResult says where a walk along a skeleton ridge stopped.
type traceResult struct {
	x, y   int // last pixel reached
	length int // pixels walked
	hit    int // index of the minutia reached, or -1
}

// trace walks the skeleton from minutia self at (x0, y0) through its
// neighbour (x1, y1) for at most maxLen pixels, stopping at another minutia.
func trace(sk []uint8, ids []int32, w, h, self, x0, y0, x1, y1, maxLen int) traceResult {
	px, py, cx, cy := x0, y0, x1, y1
	var hist [4]int
	hist[0] = y0*w + x0
	for n := 1; n <= maxLen; n++ {
		if id := ids[cy*w+cx]; id >= 0 && int(id) != self {
			return traceResult{cx, cy, n, int(id)}
		}
		if cx <= 0 || cy <= 0 || cx >= w-1 || cy >= h-1 {
			return traceResult{cx, cy, n, -1}
		}
		hist[n%4] = cy*w + cx
		nx, ny, best := -1, -1, 99
		for i := range 8 {
			xx, yy := cx+ringDX[i], cy+ringDY[i]
			p := yy*w + xx
			if sk[p] == 0 || slices.Contains(hist[:], p) || (xx == px && yy == py) {
				continue
			}
			// Prefer the step that is not adjacent to where we came from.
			rank := 0
			if abs(xx-px) <= 1 && abs(yy-py) <= 1 {
				rank = 2
			}
			if ringDX[i] != 0 && ringDY[i] != 0 {
				rank++
			}
			if rank < best {
				nx, ny, best = xx, yy, rank
			}
		}
		if nx < 0 {
			return traceResult{cx, cy, n, -1}
		}
		px, py, cx, cy = cx, cy, nx, ny
	}
	return traceResult{cx, cy, maxLen, -1}
}

// branches returns the first pixel of each ridge leaving (x, y).
func branches(sk []uint8, w, x, y int) [][2]int {
	c := ringBits(sk, w, x, y)
	var out [][2]int
	for i := range 8 {
		prev := (i + 7) % 8
		if c>>i&1 == 0 || c>>prev&1 != 0 {
			continue
		}
		// A run starts at i; prefer its first orthogonal pixel.
		pick := i
		for j := i; c>>(j%8)&1 != 0 && j < i+8; j++ {
			if (j%8)%2 == 0 {
				pick = j % 8
				break
			}
		}
		out = append(out, [2]int{x + ringDX[pick], y + ringDY[pick]})
	}
	if len(out) == 0 && c == 255 {
		return nil
	}
	return out
}

func angleDiff(a, b float64) float64 {
	d := math.Mod(a-b, 2*math.Pi)
	if d > math.Pi {
		d -= 2 * math.Pi
	} else if d < -math.Pi {
		d += 2 * math.Pi
	}
	return d
}

// findMinutiae detects endings and bifurcations on the skeleton by their
// crossing number, gives each a direction from the orientation field (with
// the sense taken from the traced ridges), removes false minutiae and returns
// the survivors, best quality first, at most maxMinutiae.
func findMinutiae(sk []uint8, w, h int, f *fields) []Minutia {
	ids := make([]int32, w*h)
	for i := range ids {
		ids[i] = -1
	}
	var cs []candidate
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			if sk[y*w+x] == 0 || !f.inMask(x, y) {
				continue
			}
			c := ringBits(sk, w, x, y)
			var typ uint8
			switch transitions(c) {
			case 1:
				typ = TypeEnding
			case 3:
				typ = TypeBifurcation
			default:
				continue
			}
			// Adjacent bifurcation pixels are one minutia.
			merged := false
			for i := range 8 {
				if id := ids[(y+ringDY[i])*w+x+ringDX[i]]; id >= 0 && cs[id].typ == typ && typ == TypeBifurcation {
					ids[y*w+x] = id
					merged = true
					break
				}
			}
			if merged {
				continue
			}
			ids[y*w+x] = int32(len(cs))
			cs = append(cs, candidate{x: x, y: y, typ: typ})
		}
	}
	// Directions and skeleton-based false-minutia tests.
	for i := range cs {
		c := &cs[i]
		br := branches(sk, w, c.x, c.y)
		var rough float64
		switch c.typ {
		case TypeEnding:
			if len(br) != 1 {
				c.dead = true
				continue
			}
			tr := trace(sk, ids, w, h, i, c.x, c.y, br[0][0], br[0][1], shortRidge)
			if tr.hit >= 0 {
				c.dead = true
				cs[tr.hit].dead = true
				continue
			}
			if tr.length < traceLen/2 {
				c.dead = true
				continue
			}
			t2 := trace(sk, ids, w, h, i, c.x, c.y, br[0][0], br[0][1], traceLen)
			rough = math.Atan2(float64(c.y-t2.y), float64(c.x-t2.x))
		case TypeBifurcation:
			if len(br) != 3 {
				c.dead = true
				continue
			}
			var ang [3]float64
			for k, b := range br {
				tr := trace(sk, ids, w, h, i, c.x, c.y, b[0], b[1], bridgeLen)
				if tr.hit >= 0 && cs[tr.hit].typ == TypeBifurcation {
					c.dead = true
					cs[tr.hit].dead = true
				}
				t2 := trace(sk, ids, w, h, i, c.x, c.y, b[0], b[1], traceLen)
				ang[k] = math.Atan2(float64(t2.y-c.y), float64(t2.x-c.x))
			}
			// The stem is the branch farthest in angle from the other two.
			best, stem := -1.0, 0
			for k := range 3 {
				d := math.Abs(angleDiff(ang[(k+1)%3], ang[(k+2)%3]))
				if d < best || best < 0 {
					best, stem = d, k
				}
			}
			rough = ang[stem]
		}
		b := f.at(c.x, c.y)
		o := f.orient[b]
		if math.Abs(angleDiff(o, rough)) > math.Pi/2 {
			o += math.Pi
		}
		c.dir = math.Mod(o+4*math.Pi, 2*math.Pi)
		c.quality = f.coherence[b]
	}
	// Border: every point at distance borderGap must be foreground.
	for i := range cs {
		c := &cs[i]
		if c.dead {
			continue
		}
		for k := range 16 {
			a := float64(k) * math.Pi / 8
			if !f.inMask(c.x+int(borderGap*math.Cos(a)), c.y+int(borderGap*math.Sin(a))) {
				c.dead = true
				break
			}
		}
	}
	// Broken ridges: two endings facing each other across a short gap.
	for i := range cs {
		a := &cs[i]
		if a.dead || a.typ != TypeEnding {
			continue
		}
		for j := i + 1; j < len(cs); j++ {
			b := &cs[j]
			if b.dead || b.typ != TypeEnding {
				continue
			}
			dx, dy := float64(b.x-a.x), float64(b.y-a.y)
			d := math.Hypot(dx, dy)
			if d >= brokenGap {
				continue
			}
			if math.Abs(angleDiff(a.dir, b.dir+math.Pi)) < math.Pi/4 && math.Abs(angleDiff(a.dir, math.Atan2(dy, dx))) < math.Pi/3 {
				a.dead, b.dead = true, true
				break
			}
		}
	}
	// Clusters: minutiae crowded together are noise.
	crowd := make([]bool, len(cs))
	for i := range cs {
		if cs[i].dead {
			continue
		}
		for j := i + 1; j < len(cs); j++ {
			if cs[j].dead {
				continue
			}
			if abs(cs[i].x-cs[j].x) < clusterGap && abs(cs[i].y-cs[j].y) < clusterGap {
				crowd[i], crowd[j] = true, true
			}
		}
	}
	var out []Minutia
	for i, c := range cs {
		if c.dead || crowd[i] {
			continue
		}
		out = append(out, Minutia{
			X: float32(c.x), Y: float32(c.y), Dir: float32(c.dir),
			Type: c.typ, Quality: uint8(clamp(int(math.Round(c.quality*100)), 1, 100)),
		})
	}
	// Each minutia's texture count (texture.go): the raw candidates near it.
	{
		const r2 = texRadius * texRadius
		for k := range out {
			x, y, n := int(out[k].X), int(out[k].Y), 0
			for _, c := range cs {
				if dx, dy := c.x-x, c.y-y; dx*dx+dy*dy <= r2 && (dx != 0 || dy != 0) {
					n++
				}
			}
			out[k].tex = uint8(min(n, math.MaxUint8))
		}
	}
	slices.SortStableFunc(out, func(a, b Minutia) int { return int(b.Quality) - int(a.Quality) })
	if len(out) > maxMinutiae {
		out = out[:maxMinutiae]
	}
	return out
}
