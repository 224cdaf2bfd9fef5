//go:build ignore

// icons_gen.go draws the app's PNG icons from the same design as
// icon.svg (two overlapping circles on a dark rounded square), for the
// web manifest and iOS's apple-touch-icon, which want bitmaps:
//
//	cd web && go run icons_gen.go
//
// Drawn with 4×4 supersampling; no image library beyond the standard one.
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
)

type circle struct {
	cx, cy, r float64
	c         color.NRGBA
}

// draw renders the design at size px. maskable leaves the square full
// bleed and keeps the circles inside the middle 80 % (the safe zone a
// launcher may crop to); otherwise the square has the SVG's rounded corners.
func draw(size int, maskable bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	bg := color.NRGBA{0x10, 0x14, 0x18, 0xff}
	scale := 1.0
	radius := 14.0 // in the SVG's 64-unit box
	if maskable {
		scale, radius = 0.8, 0
	}
	circles := []circle{
		{24, 32, 12, color.NRGBA{0x3d, 0x8b, 0xfd, 0xff}},
		{40, 32, 12, color.NRGBA{0x30, 0xa4, 0x6c, 0xd9}},
	}
	const ss = 4
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, b, a float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/ss) / float64(size) * 64
					y := (float64(py) + (float64(sy)+0.5)/ss) / float64(size) * 64
					if !inRounded(x, y, radius) {
						continue
					}
					cr, cg, cb := float64(bg.R), float64(bg.G), float64(bg.B)
					for _, c := range circles {
						dx, dy := x-(32+(c.cx-32)*scale), y-(32+(c.cy-32)*scale)
						if math.Hypot(dx, dy) <= c.r*scale {
							al := float64(c.c.A) / 255
							cr = cr*(1-al) + float64(c.c.R)*al
							cg = cg*(1-al) + float64(c.c.G)*al
							cb = cb*(1-al) + float64(c.c.B)*al
						}
					}
					r, g, b, a = r+cr, g+cg, b+cb, a+1
				}
			}
			if a == 0 {
				continue
			}
			img.SetNRGBA(px, py, color.NRGBA{uint8(r / a), uint8(g / a), uint8(b / a), uint8(255 * a / ss / ss)})
		}
	}
	return img
}

// inRounded: whether (x, y) is inside the 64×64 square with corner radius rad.
func inRounded(x, y, rad float64) bool {
	if rad == 0 {
		return true
	}
	cx := math.Max(rad, math.Min(64-rad, x))
	cy := math.Max(rad, math.Min(64-rad, y))
	return math.Hypot(x-cx, y-cy) <= rad
}

func main() {
	for _, f := range []struct {
		name     string
		size     int
		maskable bool
	}{
		{"icon-192.png", 192, false},
		{"icon-512.png", 512, false},
		{"icon-maskable-512.png", 512, true},
		{"apple-touch-icon.png", 180, true}, // iOS rounds the corners itself
	} {
		out, err := os.Create(f.name)
		if err != nil {
			log.Fatal(err)
		}
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		if err := enc.Encode(out, draw(f.size, f.maskable)); err != nil {
			log.Fatal(err)
		}
		if err := out.Close(); err != nil {
			log.Fatal(err)
		}
	}
}
