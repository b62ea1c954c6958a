// Package browsertest drives a real headless Chromium from Go tests with
// chromedp. Page tests call New for a browser tab, then use chromedp
// actions (Navigate, SendKeys, Click, WaitVisible, Text…) through Do and
// Get against a
// servertest server.
//
// Chromium comes from Debian's chromium package (.ci/run installs it). When
// it is missing the tests skip, except under CI or ROOST_TEST_BROWSER=1,
// where they fail.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Viewport sizes the tests check pages at.
type Viewport struct {
	Width, Height int
	Mobile        bool
	// UserAgent is what the browser says it is: an ordinary browser of the
	// device, not "HeadlessChrome", which Roost rightly counts as a bot.
	UserAgent string
}

var (
	Laptop = Viewport{Width: 1280, Height: 800,
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"}
	Phone = Viewport{Width: 390, Height: 844, Mobile: true,
		UserAgent: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36"}
)

// Chromium returns the path of the browser, or "".
func Chromium() string {
	if p := os.Getenv("ROOST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// New starts a headless Chromium with the given viewport and returns a
// context for chromedp actions, closed when the test ends.
func New(t testing.TB, vp Viewport) context.Context {
	t.Helper()
	path := Chromium()
	if path == "" {
		if os.Getenv("CI") != "" || os.Getenv("ROOST_TEST_BROWSER") == "1" {
			t.Fatal("Chromium is required for browser tests: apt-get install chromium")
		}
		t.Skip("Chromium not found (apt-get install chromium); skipping browser test")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(vp.Width, vp.Height),
	}
	if vp.UserAgent != "" {
		opts = append(opts, chromedp.UserAgent(vp.UserAgent))
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	tctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() {
		cancelT()
		cancelC()
		cancelA()
	})
	emulate := chromedp.EmulateViewport(int64(vp.Width), int64(vp.Height))
	if vp.Mobile {
		emulate = chromedp.EmulateViewport(int64(vp.Width), int64(vp.Height), chromedp.EmulateMobile, chromedp.EmulateScale(2))
	}
	if err := chromedp.Do(tctx, emulate); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return tctx
}

// Do runs chromedp steps and fails the test on error, with a screenshot
// saved for the failure when ROOST_SCREENSHOTS names a directory.
func Do(t testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		Screenshot(t, ctx, "failure")
		t.Fatal(err)
	}
}

// Get runs one chromedp action that reads a value (Text, Title,
// Evaluate…) and returns it, failing the test on error.
func Get[T any](t testing.TB, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		Screenshot(t, ctx, "failure")
		t.Fatal(err)
	}
	return v
}

// Screenshot saves the page as ROOST_SCREENSHOTS/<test>-<name>.png when that
// variable names a directory; otherwise it does nothing.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("ROOST_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	file := filepath.Join(dir, filepath.Base(t.Name())+"-"+name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
}
