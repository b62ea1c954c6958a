package links

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strings"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
)

// QR codes use medium error correction: they survive a little print damage
// and stay small enough to scan from a screen.

// QRPNG returns a PNG of a QR code for url, size pixels square (with the
// quiet zone the standard asks for).
func QRPNG(url string, size int) ([]byte, error) {
	code, err := qr.Encode(url, qr.M, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("links: QR code: %w", err)
	}
	modules := code.Bounds().Dx() + 8 // 4 modules of quiet zone each side
	scale := max(1, size/modules)
	inner := code.Bounds().Dx() * scale
	scaled, err := barcode.Scale(code, inner, inner)
	if err != nil {
		return nil, fmt.Errorf("links: QR code: %w", err)
	}
	img := withMargin(scaled, 4*scale)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// QRSVG returns an SVG of a QR code for url: one path, sharp at any size.
func QRSVG(url string) (string, error) {
	code, err := qr.Encode(url, qr.M, qr.Auto)
	if err != nil {
		return "", fmt.Errorf("links: QR code: %w", err)
	}
	n := code.Bounds().Dx()
	var path strings.Builder
	for y := range n {
		for x := 0; x < n; x++ {
			if !dark(code, x, y) {
				continue
			}
			run := 1
			for x+run < n && dark(code, x+run, y) {
				run++
			}
			fmt.Fprintf(&path, "M%d %dh%dv1h-%dz", x+4, y+4, run, run)
			x += run - 1
		}
	}
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %[1]d %[1]d" shape-rendering="crispEdges"><rect width="100%%" height="100%%" fill="#fff"/><path fill="#000" d="%[2]s"/></svg>`,
		n+8, path.String()), nil
}

func dark(code barcode.Barcode, x, y int) bool {
	r, _, _, _ := code.At(x, y).RGBA()
	return r < 0x8000
}

// withMargin puts img on a white square with a margin of m pixels.
func withMargin(img image.Image, m int) image.Image {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx()+2*m, b.Dy()+2*m))
	draw.Draw(out, out.Bounds(), &image.Uniform{color.White}, image.Point{}, draw.Src)
	draw.Draw(out, image.Rect(m, m, m+b.Dx(), m+b.Dy()), img, b.Min, draw.Src)
	return out
}
