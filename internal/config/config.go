// Package config reads the process configuration: environment variables,
// overridden by command-line flags of the same meaning. Business settings
// (accounts, offers, integrations) live in the database instead.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/roost-hq/roost/internal/httpx"
	"github.com/roost-hq/roost/internal/secret"
)

// Config is what a roost process needs to start.
type Config struct {
	Addr          string // ROOST_ADDR
	BaseURL       string // ROOST_BASE_URL
	DataDir       string // ROOST_DATA_DIR
	DatabaseURL   string // ROOST_DATABASE_URL
	SecretKey     string // ROOST_SECRET_KEY
	SecretKeyFile string // ROOST_SECRET_KEY_FILE
	LogFormat     string // ROOST_LOG_FORMAT: text or json
	LogLevel      string // ROOST_LOG_LEVEL: debug, info, warn or error
	envErr        error  // a variable that could not be parsed

	ClickBuffer     int           // ROOST_CLICK_BUFFER: clicks held in memory before spilling to disk
	ClickBatchSize  int           // ROOST_CLICK_BATCH_SIZE: clicks per database insert
	ClickFlushEvery time.Duration // ROOST_CLICK_FLUSH_INTERVAL: longest a click waits to be written
	GeoIPPath       string        // ROOST_GEOIP_DB: MaxMind-format country database
	TrustedProxies  string        // ROOST_TRUSTED_PROXIES: proxies whose X-Forwarded-For is believed
	Proxies         []netip.Prefix
	DebugAddr       string // ROOST_DEBUG_ADDR: loopback address for Go's profiler (net/http/pprof); "" for none

	XClientID     string // ROOST_X_CLIENT_ID: the brand's X app (OAuth 2.0 client ID)
	XClientSecret string // ROOST_X_CLIENT_SECRET: its secret (empty for a public client)
}

// Defaults.
const (
	DefaultAddr    = ":8080"
	DefaultDataDir = "./roost-data"
)

// Register defines the configuration flags on fs, with defaults taken from
// the environment through getenv, so a flag overrides its variable.
func (c *Config) Register(fs *flag.FlagSet, getenv func(string) string) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&c.Addr, "addr", env("ROOST_ADDR", DefaultAddr), "listen address (ROOST_ADDR)")
	fs.StringVar(&c.BaseURL, "base-url", env("ROOST_BASE_URL", ""), "public URL used in links and emails (ROOST_BASE_URL; default http://localhost:PORT)")
	fs.StringVar(&c.DataDir, "data-dir", env("ROOST_DATA_DIR", DefaultDataDir), "data directory (ROOST_DATA_DIR)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("ROOST_DATABASE_URL", ""), "postgres://… for PostgreSQL (ROOST_DATABASE_URL; default: SQLite in the data directory)")
	c.SecretKey = getenv("ROOST_SECRET_KEY") // never a flag: it would show in ps
	fs.StringVar(&c.SecretKeyFile, "secret-key-file", env("ROOST_SECRET_KEY_FILE", ""), "file holding the secret key (ROOST_SECRET_KEY_FILE, or ROOST_SECRET_KEY itself)")
	fs.StringVar(&c.LogFormat, "log-format", env("ROOST_LOG_FORMAT", "text"), "log format: text or json (ROOST_LOG_FORMAT)")
	fs.StringVar(&c.LogLevel, "log-level", env("ROOST_LOG_LEVEL", "info"), "log level: debug, info, warn or error (ROOST_LOG_LEVEL)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", env("ROOST_TRUSTED_PROXIES", ""), "reverse proxies whose X-Forwarded-For header gives the visitor's address: IPs or CIDR ranges, comma-separated (ROOST_TRUSTED_PROXIES)")
	fs.StringVar(&c.GeoIPPath, "geoip-db", env("ROOST_GEOIP_DB", ""), "MaxMind-format country database (.mmdb) for click countries (ROOST_GEOIP_DB)")
	fs.StringVar(&c.DebugAddr, "debug-addr", env("ROOST_DEBUG_ADDR", ""), "loopback address such as 127.0.0.1:6060 serving Go's profiler at /debug/pprof/; off when empty (ROOST_DEBUG_ADDR)")
	fs.StringVar(&c.XClientID, "x-client-id", env("ROOST_X_CLIENT_ID", ""), "OAuth 2.0 client ID of your X app, to connect X accounts (ROOST_X_CLIENT_ID)")
	c.XClientSecret = getenv("ROOST_X_CLIENT_SECRET") // never a flag: it would show in ps
	c.envErr = nil
	intVar := func(p *int, name, envName string, def int, usage string) {
		v := def
		if s := getenv(envName); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				c.envErr = errors.Join(c.envErr, fmt.Errorf("%s %q must be a positive whole number", envName, s))
			}
			v = n
		}
		fs.IntVar(p, name, v, usage+" ("+envName+")")
	}
	intVar(&c.ClickBuffer, "click-buffer", "ROOST_CLICK_BUFFER", 100_000, "clicks held in memory before spilling to disk")
	intVar(&c.ClickBatchSize, "click-batch-size", "ROOST_CLICK_BATCH_SIZE", 2000, "clicks written per database insert")
	flush := 200 * time.Millisecond
	if s := getenv("ROOST_CLICK_FLUSH_INTERVAL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			c.envErr = errors.Join(c.envErr, fmt.Errorf("ROOST_CLICK_FLUSH_INTERVAL %q must be a duration such as 200ms", s))
		}
		flush = d
	}
	fs.DurationVar(&c.ClickFlushEvery, "click-flush-interval", flush, "longest a click waits before it is written (ROOST_CLICK_FLUSH_INTERVAL)")
}

// Check validates the configuration and fills in derived defaults.
func (c *Config) Check() error {
	if c.envErr != nil {
		return c.envErr
	}
	if c.ClickBuffer <= 0 || c.ClickBatchSize <= 0 || c.ClickFlushEvery <= 0 {
		return errors.New("the click buffer, batch size and flush interval must be positive")
	}
	proxies, err := httpx.ParsePrefixes(c.TrustedProxies)
	if err != nil {
		return fmt.Errorf("ROOST_TRUSTED_PROXIES: %w", err)
	}
	c.Proxies = proxies
	if c.GeoIPPath != "" {
		if _, err := os.Stat(c.GeoIPPath); err != nil {
			return fmt.Errorf("ROOST_GEOIP_DB: %w", err)
		}
	}
	if c.DebugAddr != "" {
		h, _, err := net.SplitHostPort(c.DebugAddr)
		a, perr := netip.ParseAddr(h)
		if err != nil || perr != nil || !a.IsLoopback() {
			return fmt.Errorf("ROOST_DEBUG_ADDR %q must be a loopback address such as 127.0.0.1:6060: the profiler is not for the public", c.DebugAddr)
		}
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("ROOST_ADDR %q is not a listen address such as :8080 or 127.0.0.1:8080", c.Addr)
	}
	if c.BaseURL == "" {
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		c.BaseURL = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("ROOST_BASE_URL %q must be an http:// or https:// URL with no query, such as https://roost.example.com", c.BaseURL)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.DataDir == "" {
		return errors.New("ROOST_DATA_DIR must not be empty")
	}
	if c.SecretKey != "" && c.SecretKeyFile != "" {
		return errors.New("set ROOST_SECRET_KEY or ROOST_SECRET_KEY_FILE, not both")
	}
	if _, err := c.level(); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("ROOST_LOG_FORMAT %q must be text or json", c.LogFormat)
	}
	return nil
}

// Secure reports whether the public URL is HTTPS, so cookies get Secure.
func (c *Config) Secure() bool { return strings.HasPrefix(c.BaseURL, "https://") }

func (c *Config) level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("ROOST_LOG_LEVEL %q must be debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}

// Logger returns the process logger writing to w.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	l, _ := c.level()
	opts := &slog.HandlerOptions{Level: l}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// SpillDir is where clicks go when the buffer is full or the database down.
func (c *Config) SpillDir() string { return filepath.Join(c.DataDir, "spill") }

// KeyFile is where a generated secret key is kept.
func (c *Config) KeyFile() string { return filepath.Join(c.DataDir, "secret.key") }

// Keys loads the secret key from ROOST_SECRET_KEY, ROOST_SECRET_KEY_FILE or
// the data directory. When there is none and generate is set, it writes a new
// key into the data directory and returns its path in generated.
func (c *Config) Keys(generate bool) (keys *secret.Keys, generated string, err error) {
	raw, from := c.SecretKey, "ROOST_SECRET_KEY"
	if raw == "" && c.SecretKeyFile != "" {
		b, err := os.ReadFile(c.SecretKeyFile)
		if err != nil {
			return nil, "", fmt.Errorf("cannot read ROOST_SECRET_KEY_FILE: %w", err)
		}
		raw, from = string(b), c.SecretKeyFile
	}
	if raw == "" {
		from = c.KeyFile()
		b, err := os.ReadFile(from)
		switch {
		case err == nil:
			raw = string(b)
		case errors.Is(err, fs.ErrNotExist) && generate:
			raw = secret.Generate()
			if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
				return nil, "", fmt.Errorf("cannot create data directory: %w", err)
			}
			f, err := os.OpenFile(from, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if errors.Is(err, fs.ErrExist) {
				return c.Keys(false) // another process made it first
			}
			if err != nil {
				return nil, "", fmt.Errorf("cannot write secret key: %w", err)
			}
			_, err = f.WriteString(raw + "\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, "", fmt.Errorf("cannot write secret key: %w", err)
			}
			generated = from
		case errors.Is(err, fs.ErrNotExist):
			return nil, "", errors.New("no secret key: set ROOST_SECRET_KEY or ROOST_SECRET_KEY_FILE, or run roost serve once to generate one")
		default:
			return nil, "", fmt.Errorf("cannot read secret key: %w", err)
		}
	}
	keys, err = secret.New(raw)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", from, err)
	}
	return keys, generated, nil
}
