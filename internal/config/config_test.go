package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, env map[string]string, args ...string) (Config, error) {
	t.Helper()
	var c Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Register(fs, func(k string) string { return env[k] })
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.Check()
}

func TestDefaultsEnvAndFlags(t *testing.T) {
	t.Parallel()
	c, err := load(t, nil)
	if err != nil || c.Addr != ":8080" || c.BaseURL != "http://localhost:8080" || c.DataDir != "./roost-data" || c.Secure() {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	c, err = load(t, map[string]string{"ROOST_ADDR": "127.0.0.1:9000", "ROOST_BASE_URL": "https://go.example.com/", "ROOST_LOG_FORMAT": "json",
		"ROOST_CLICK_FLUSH_INTERVAL": "50ms", "ROOST_CLICK_BATCH_SIZE": "100", "ROOST_TRUSTED_PROXIES": "10.0.0.0/8 127.0.0.1"}, "-addr", ":7000", "-click-batch-size", "250")
	if err != nil || c.Addr != ":7000" || c.BaseURL != "https://go.example.com" || c.LogFormat != "json" || !c.Secure() ||
		c.ClickFlushEvery != 50*time.Millisecond || c.ClickBatchSize != 250 || c.ClickBuffer != 100_000 || len(c.Proxies) != 2 {
		t.Fatalf("env and flags: %+v %v", c, err)
	}
	if c.DebugAddr != "" {
		t.Fatalf("the profiler is on by default: %q", c.DebugAddr)
	}
	for _, addr := range []string{"127.0.0.1:6060", "[::1]:6060"} {
		if c, err := load(t, map[string]string{"ROOST_DEBUG_ADDR": addr}); err != nil || c.DebugAddr != addr {
			t.Errorf("ROOST_DEBUG_ADDR=%s: %q %v", addr, c.DebugAddr, err)
		}
	}
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	for name, env := range map[string]map[string]string{
		"addr":     {"ROOST_ADDR": "8080"},
		"base url": {"ROOST_BASE_URL": "javascript:alert(1)"},
		"query":    {"ROOST_BASE_URL": "https://x.example?a=b"},
		"level":    {"ROOST_LOG_LEVEL": "loud"},
		"format":   {"ROOST_LOG_FORMAT": "xml"},
		"two keys": {"ROOST_SECRET_KEY": strings.Repeat("k", 40), "ROOST_SECRET_KEY_FILE": "/x"},
		"proxies":  {"ROOST_TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal"},
		"buffer":   {"ROOST_CLICK_BUFFER": "lots"},
		"batch":    {"ROOST_CLICK_BATCH_SIZE": "-5"},
		"flush":    {"ROOST_CLICK_FLUSH_INTERVAL": "200"},
		"geoip":    {"ROOST_GEOIP_DB": "/nonexistent/GeoLite2-Country.mmdb"},
		"debug":    {"ROOST_DEBUG_ADDR": ":6060"},
		"debug ip": {"ROOST_DEBUG_ADDR": "10.1.2.3:6060"},
		"debug no": {"ROOST_DEBUG_ADDR": "localhost"},
	} {
		_, err := load(t, env)
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want a one-line error", name, err)
		}
	}
	if _, err := load(t, nil, "-nope"); err == nil {
		t.Error("unknown flag accepted")
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := Config{DataDir: filepath.Join(dir, "data")}
	if _, _, err := c.Keys(false); err == nil {
		t.Fatal("no key and no generation should fail")
	}
	k1, gen, err := c.Keys(true)
	if err != nil || gen == "" {
		t.Fatalf("generate: %v %q", err, gen)
	}
	st, _ := os.Stat(gen)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode())
	}
	k2, gen, err := c.Keys(true)
	if err != nil || gen != "" || k1.Check() != k2.Check() {
		t.Fatalf("second load regenerated or changed the key: %v %q", err, gen)
	}
	file := filepath.Join(dir, "key")
	os.WriteFile(file, []byte("short\n"), 0o600)
	c = Config{DataDir: dir, SecretKeyFile: file}
	if _, _, err := c.Keys(true); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("short key file: %v", err)
	}
	c = Config{DataDir: dir, SecretKey: strings.Repeat("s", 32)}
	if _, gen, err := c.Keys(true); err != nil || gen != "" {
		t.Fatalf("key from env: %v", err)
	}
}
