// Command rttplot draws the getpid round-trip time of both servers against
// the number of clients as a small PNG, with nothing but the standard
// library: the labels use a hand-drawn 3x5 pixel font.
//
//	rttplot -in rtt.tsv -out rtt.png
//
// The input is the table bench/driver writes: a header line, then one line
// per client count with rumpsp's and the reference's round trip in
// microseconds, separated by tabs.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"strconv"
	"strings"
)

// Picture geometry, in pixels.
const (
	width   = 720
	height  = 440
	left    = 90 // room for the y labels
	right   = 30
	top     = 50 // room for the title and the legend
	bottom  = 60 // room for the x labels
	scale   = 2  // font pixels per glyph dot
	yTicks  = 5
	dotSize = 3 // half-width of a data point marker
)

var (
	white  = color.RGBA{255, 255, 255, 255}
	black  = color.RGBA{0, 0, 0, 255}
	grey   = color.RGBA{220, 220, 220, 255}
	blue   = color.RGBA{30, 90, 200, 255}  // rumpsp
	orange = color.RGBA{220, 100, 20, 255} // the C reference
)

// glyphs is the font: five rows per character, '#' for a dot.
var glyphs = map[rune][5]string{
	'0': {"###", "#.#", "#.#", "#.#", "###"},
	'1': {".#.", "##.", ".#.", ".#.", "###"},
	'2': {"###", "..#", "###", "#..", "###"},
	'3': {"###", "..#", "###", "..#", "###"},
	'4': {"#.#", "#.#", "###", "..#", "..#"},
	'5': {"###", "#..", "###", "..#", "###"},
	'6': {"###", "#..", "###", "#.#", "###"},
	'7': {"###", "..#", "..#", "..#", "..#"},
	'8': {"###", "#.#", "###", "#.#", "###"},
	'9': {"###", "#.#", "###", "..#", "###"},
	'.': {".", ".", ".", ".", "#"},
	' ': {"..", "..", "..", "..", ".."},
	'(': {".#", "#.", "#.", "#.", ".#"},
	')': {"#.", ".#", ".#", ".#", "#."},
	'/': {"..#", "..#", ".#.", "#..", "#.."},
	'-': {"...", "...", "###", "...", "..."},
	'A': {"###", "#.#", "###", "#.#", "#.#"},
	'C': {"###", "#..", "#..", "#..", "###"},
	'D': {"##.", "#.#", "#.#", "#.#", "##."},
	'E': {"###", "#..", "##.", "#..", "###"},
	'F': {"###", "#..", "##.", "#..", "#.."},
	'G': {"###", "#..", "#.#", "#.#", "###"},
	'I': {"###", ".#.", ".#.", ".#.", "###"},
	'L': {"#..", "#..", "#..", "#..", "###"},
	'M': {"#...#", "##.##", "#.#.#", "#...#", "#...#"},
	'N': {"#..#", "##.#", "#.##", "#..#", "#..#"},
	'O': {"###", "#.#", "#.#", "#.#", "###"},
	'P': {"###", "#.#", "###", "#..", "#.."},
	'R': {"##.", "#.#", "##.", "#.#", "#.#"},
	'S': {"###", "#..", "###", "..#", "###"},
	'T': {"###", ".#.", ".#.", ".#.", ".#."},
	'U': {"#.#", "#.#", "#.#", "#.#", "###"},
	'V': {"#.#", "#.#", "#.#", "#.#", ".#."},
}

// A point is one line of the table.
type point struct {
	clients     float64
	rumpsp, ref float64
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("rttplot: ")
	in := flag.String("in", "", "the round-trip table")
	out := flag.String("out", "rtt.png", "the picture to write")
	flag.Parse()

	pts, err := readTable(*in)
	if err != nil {
		log.Fatal(err)
	}
	img := draw(pts)
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

func readTable(path string) ([]point, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pts []point
	sc := bufio.NewScanner(f)
	for first := true; sc.Scan(); first = false {
		if first {
			continue
		}
		var v [3]float64
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 3 {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		for i, s := range fields {
			if v[i], err = strconv.ParseFloat(s, 64); err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
		}
		pts = append(pts, point{v[0], v[1], v[2]})
	}
	if len(pts) < 2 {
		return nil, fmt.Errorf("%s: fewer than two points", path)
	}
	return pts, sc.Err()
}

// draw makes the plot: x is the number of clients on a log2 scale, y the
// round trip in microseconds from zero.
func draw(pts []point) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fill(img, 0, 0, width, height, white)

	ymax := 0.0
	for _, p := range pts {
		ymax = math.Max(ymax, math.Max(p.rumpsp, p.ref))
	}
	step := niceStep(ymax / yTicks)
	ymax = step * math.Ceil(ymax/step)
	xmin := math.Log2(pts[0].clients)
	xmax := math.Log2(pts[len(pts)-1].clients)
	px := func(c float64) int {
		return left + int((math.Log2(c)-xmin)/(xmax-xmin)*float64(width-left-right)+0.5)
	}
	py := func(us float64) int {
		return height - bottom - int(us/ymax*float64(height-top-bottom)+0.5)
	}

	// Grid, axes and their labels.
	for y := 0.0; y <= ymax+step/2; y += step {
		hline(img, left, width-right, py(y), grey)
		label := strconv.FormatFloat(y, 'f', -1, 64)
		text(img, left-8-textWidth(label), py(y)-5*scale/2, label, black)
	}
	for _, p := range pts {
		vline(img, px(p.clients), top, height-bottom, grey)
		label := strconv.FormatFloat(p.clients, 'f', -1, 64)
		text(img, px(p.clients)-textWidth(label)/2, height-bottom+8, label, black)
	}
	hline(img, left, width-right, height-bottom, black)
	vline(img, left, top, height-bottom, black)
	xl := "CLIENTS"
	text(img, left+(width-left-right-textWidth(xl))/2, height-bottom+30, xl, black)
	text(img, 8, 14, "GETPID ROUND TRIP (US) PER CLIENT", black)

	// The two lines and the legend.
	series := []struct {
		name string
		c    color.RGBA
		y    func(point) float64
	}{
		{"RUMPSP", blue, func(p point) float64 { return p.rumpsp }},
		{"C REF", orange, func(p point) float64 { return p.ref }},
	}
	lx := width - right - 200
	for i, s := range series {
		for j, p := range pts {
			x, y := px(p.clients), py(s.y(p))
			fill(img, x-dotSize, y-dotSize, x+dotSize+1, y+dotSize+1, s.c)
			if j > 0 {
				q := pts[j-1]
				line(img, px(q.clients), py(s.y(q)), x, y, s.c)
			}
		}
		ly := 12 + i*16
		fill(img, lx, ly+3, lx+30, ly+6, s.c)
		text(img, lx+38, ly, s.name, black)
	}
	return img
}

// niceStep rounds a tick step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func fill(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) { fill(img, x0, y, x1+1, y+1, c) }

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) { fill(img, x, y0, x+1, y1+1, c) }

// line draws a segment three pixels thick (Bresenham).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		fill(img, x0-1, y0-1, x0+2, y0+2, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

// text writes s with the pixel font, its top left corner at (x, y).
// Characters the font lacks are left out.
func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for _, r := range strings.ToUpper(s) {
		g, ok := glyphs[r]
		if !ok {
			continue
		}
		for row, bits := range g {
			for col, b := range bits {
				if b == '#' {
					fill(img, x+col*scale, y+row*scale,
						x+(col+1)*scale, y+(row+1)*scale, c)
				}
			}
		}
		x += (len(g[0]) + 1) * scale
	}
}

func textWidth(s string) int {
	w := 0
	for _, r := range strings.ToUpper(s) {
		if g, ok := glyphs[r]; ok {
			w += (len(g[0]) + 1) * scale
		}
	}
	return w - scale
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
