package links

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roost-hq/roost/internal/store"
)

// A visitor is a salted hash of IP address and user agent. The salt is
// random, one per UTC day, shared by all nodes through the database, and
// deleted after two days: Roost never stores an IP address, and once the
// salt is gone nobody can tell whose visit a key was.

// day numbers UTC days since the epoch.
func day(t time.Time) int64 { return t.UTC().Unix() / 86400 }

type salts struct {
	db *store.DB
	mu sync.RWMutex
	by map[int64][]byte
	// macs keeps keyed HMACs per day, so a redirect does not build one.
	macs sync.Map                // day → *sync.Pool of *keyer
	last atomic.Pointer[dayPool] // the day last asked for
}

type dayPool struct {
	day  int64
	pool *sync.Pool
}

func newSalts(db *store.DB) *salts { return &salts{db: db, by: map[int64][]byte{}} }

// get returns the salt of day d, creating it if no node has yet.
func (s *salts) get(ctx context.Context, d int64) ([]byte, error) {
	s.mu.RLock()
	salt, ok := s.by[d]
	s.mu.RUnlock()
	if ok {
		return salt, nil
	}
	fresh := make([]byte, 32)
	rand.Read(fresh)
	if _, err := s.db.W.ExecContext(ctx, `INSERT INTO visitor_salts (day, salt) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING`, d, hex.EncodeToString(fresh)); err != nil {
		return nil, fmt.Errorf("links: create visitor salt: %w", err)
	}
	var hx string
	if err := s.db.W.QueryRowContext(ctx, `SELECT salt FROM visitor_salts WHERE day = $1`, d).Scan(&hx); err != nil {
		return nil, fmt.Errorf("links: read visitor salt: %w", err)
	}
	salt, err := hex.DecodeString(hx)
	if err != nil {
		return nil, fmt.Errorf("links: bad visitor salt: %w", err)
	}
	s.mu.Lock()
	s.by[d] = salt
	s.mu.Unlock()
	return salt, nil
}

// prepare makes sure today's and tomorrow's salts are at hand, so the
// redirect never waits for one, and forgets those older than yesterday.
func (s *salts) prepare(ctx context.Context, now time.Time) error {
	today := day(now)
	for _, d := range []int64{today, today + 1} {
		if _, err := s.get(ctx, d); err != nil {
			return err
		}
	}
	if _, err := s.db.W.ExecContext(ctx, `DELETE FROM visitor_salts WHERE day < $1`, today-1); err != nil {
		return fmt.Errorf("links: delete old visitor salts: %w", err)
	}
	s.mu.Lock()
	for d := range s.by {
		if d < today-1 {
			delete(s.by, d)
			s.macs.Delete(d)
			if last := s.last.Load(); last != nil && last.day == d {
				s.last.CompareAndSwap(last, nil)
			}
		}
	}
	s.mu.Unlock()
	return nil
}

// visitor returns the visitor key of an IP address and user agent at t.
func (s *salts) visitor(ctx context.Context, t time.Time, ip, ua string) (string, error) {
	d := day(t)
	var pool *sync.Pool
	if last := s.last.Load(); last != nil && last.day == d {
		pool = last.pool
	} else {
		p, ok := s.macs.Load(d)
		if !ok {
			salt, err := s.get(ctx, d)
			if err != nil {
				return "", err
			}
			p, _ = s.macs.LoadOrStore(d, &sync.Pool{New: func() any { return &keyer{mac: hmac.New(sha256.New, salt)} }})
		}
		pool = p.(*sync.Pool)
		s.last.Store(&dayPool{d, pool})
	}
	k := pool.Get().(*keyer)
	// IP and user agent are written in one piece, through a buffer kept
	// with the MAC: converting each string to bytes would copy it.
	k.buf = append(append(append(k.buf[:0], ip...), 0), ua...)
	k.mac.Reset()
	k.mac.Write(k.buf)
	k.sum = k.mac.Sum(k.sum[:0])
	var out [32]byte
	hex.Encode(out[:], k.sum[:16])
	pool.Put(k)
	return string(out[:]), nil
}

// keyer is a keyed HMAC of one day's salt, the buffer it reads from and
// the one it writes to (a slice passed to an interface's method would
// otherwise be allocated on every call).
type keyer struct {
	mac      hash.Hash
	buf, sum []byte
}
