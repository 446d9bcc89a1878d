package integration_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The browser checks of the HTML reports: Debian's chromium, headless, in a
// network namespace of its own (unshare --net: no interface is up, so
// nothing the browser might try leaves it), on the report's file.
const (
	shotWidth, shotHeight = 1200, 900
	// shotsEnv names a directory: when set, the report tests also keep
	// their screenshots there (docs/img's PNGs are made this way).
	shotsEnv = "MCAST_REPORT_SHOTS"
)

// chromium returns the browser, or skips the test when it is absent
// (scripts/install-deps.sh installs it, so CI never skips).
func chromium(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (bash scripts/install-deps.sh installs it): the report is written but not checked in a browser")
	}
	return p
}

// headless runs the browser on file with the extra flags and returns
// what it printed.
func headless(t *testing.T, file string, extra ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"--net", chromium(t), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir=" + dir,
		"--window-size=" + strconv.Itoa(shotWidth) + "," + strconv.Itoa(shotHeight)}, extra...)
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", append(args, "file://"+abs)...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium on %s: %v\n%s", file, err, errOut.String())
	}
	return out.Bytes()
}

// dumpDOM is the page as the browser built it.
func dumpDOM(t *testing.T, file string) string {
	t.Helper()
	dom := string(headless(t, file, "--dump-dom"))
	if !strings.Contains(dom, "</html>") {
		t.Fatalf("chromium's DOM of %s is not a page: %.300s", file, dom)
	}
	return dom
}

// screenshot takes the page's screenshot, checks that it has the window's
// size and is not blank (many distinct colours), and keeps it under name
// in $MCAST_REPORT_SHOTS when that is set.
func screenshot(t *testing.T, file, name string) image.Image {
	t.Helper()
	shot := filepath.Join(t.TempDir(), name+".png")
	headless(t, file, "--screenshot="+shot, "--hide-scrollbars")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("chromium made no screenshot of %s: %v", file, err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot of %s: %v", file, err)
	}
	b := img.Bounds()
	if b.Dx() != shotWidth || b.Dy() != shotHeight {
		t.Errorf("screenshot of %s is %dx%d, want %dx%d", file, b.Dx(), b.Dy(), shotWidth, shotHeight)
	}
	colours := map[color.RGBA]bool{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255}] = true
		}
	}
	if len(colours) < 200 {
		t.Errorf("screenshot of %s has %d distinct colours: blank or nearly", file, len(colours))
	}
	if dir := os.Getenv(shotsEnv); dir != "" {
		keepShot(t, img, filepath.Join(dir, name+".png"))
	}
	return img
}

// keepShot writes img small: compressed, and halved while over 300 KB.
func keepShot(t *testing.T, img image.Image, path string) {
	t.Helper()
	for {
		var b bytes.Buffer
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		if err := enc.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		if b.Len() < 300<<10 || img.Bounds().Dx() < 400 {
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		img = halve(img)
	}
}

// halve scales img to half its size, averaging each 2x2 block.
func halve(img image.Image) image.Image {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx()/2, b.Dy()/2))
	for y := range out.Bounds().Dy() {
		for x := range out.Bounds().Dx() {
			var s [3]uint32
			for _, d := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				r, g, bl, _ := img.At(b.Min.X+2*x+d[0], b.Min.Y+2*y+d[1]).RGBA()
				s[0], s[1], s[2] = s[0]+r, s[1]+g, s[2]+bl
			}
			out.Set(x, y, color.RGBA{uint8(s[0] / 4 >> 8), uint8(s[1] / 4 >> 8), uint8(s[2] / 4 >> 8), 255})
		}
	}
	return out
}

// domK is the text of the first element in dom whose data-k is key.
func domK(t *testing.T, dom, key string) string {
	t.Helper()
	m := regexp.MustCompile(`data-k="` + regexp.QuoteMeta(key) + `"[^>]*>([^<]*)<`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the page shows no %q", key)
	}
	return m[1]
}

// domRow is the table row (or element) whose attributes start with attrs.
func domRow(t *testing.T, dom, tag, attrs string) string {
	t.Helper()
	i := strings.Index(dom, "<"+tag+" "+attrs)
	if i < 0 {
		t.Fatalf("the page has no <%s %s>", tag, attrs)
	}
	end := strings.Index(dom[i:], "</"+tag+">")
	if end < 0 {
		end = len(dom) - i
	}
	return dom[i : i+end]
}

// sameNumber checks that the page shows the number the JSON has.
func sameNumber(t *testing.T, what, shown string, want float64) {
	t.Helper()
	got, err := strconv.ParseFloat(strings.TrimSpace(shown), 64)
	if err != nil || got != want {
		t.Errorf("%s: the page shows %q, the JSON has %v", what, shown, want)
	}
}
