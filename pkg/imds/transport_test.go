package imds

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func (c *countingReader) Close() error { return nil }

func TestBoundedBody(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		tooBig  bool
		readBuf int // 0 = io.ReadAll
	}{
		{"empty", 0, false, 0},
		{"small", 100, false, 0},
		{"exactly 64 KiB", maxBodyBytes, false, 0},
		{"one byte over", maxBodyBytes + 1, true, 0},
		{"10 MiB", 10 << 20, true, 0},
		{"10 MiB in 1 MiB reads", 10 << 20, true, 1 << 20},
		{"10 MiB in 1 byte reads", 10 << 20, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &countingReader{r: strings.NewReader(strings.Repeat("x", tt.size))}
			tr := &trace{}
			b := &boundedBody{rc: src, left: maxBodyBytes, tr: tr}
			var got []byte
			var err error
			if tt.readBuf == 0 {
				got, err = io.ReadAll(b)
			} else {
				buf := make([]byte, tt.readBuf)
				for err == nil {
					var n int
					n, err = b.Read(buf)
					got = append(got, buf[:n]...)
				}
				if err == io.EOF {
					err = nil
				}
			}
			if tt.tooBig != errors.Is(err, errBodyTooLarge) || tt.tooBig != tr.tooLarge {
				t.Fatalf("err = %v, trace tooLarge = %v; want too large %v", err, tr.tooLarge, tt.tooBig)
			}
			if !tt.tooBig && (err != nil || len(got) != tt.size) {
				t.Errorf("read %d bytes, %v; want %d", len(got), err, tt.size)
			}
			if len(got) > maxBodyBytes || src.n > maxBodyBytes+1 {
				t.Errorf("returned %d and consumed %d bytes; want at most %d and %d", len(got), src.n, maxBodyBytes, maxBodyBytes+1)
			}
			if n, err := b.Read(make([]byte, 10)); tt.tooBig && (n != 0 || !errors.Is(err, errBodyTooLarge)) {
				t.Errorf("read after overflow = %d, %v; want 0 and the same error", n, err)
			}
		})
	}
}

func TestStatusOutcome(t *testing.T) {
	for status, want := range map[int]string{
		200: OutcomeOther, 400: OutcomeOther, 401: OutcomeUnauthorized, 403: OutcomeForbidden,
		404: OutcomeNotFound, 405: OutcomeOther, 429: OutcomeThrottled, 500: OutcomeServerError, 503: OutcomeServerError,
	} {
		if got := statusOutcome(status); got != want {
			t.Errorf("statusOutcome(%d) = %q, want %q", status, got, want)
		}
	}
	if len(Outcomes()) != 10 {
		t.Errorf("Outcomes() = %q, want the 10 documented outcomes", Outcomes())
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"1":                             time.Second,
		"120":                           2 * time.Minute,
		"-3":                            0,
		"soon":                          0,
		"Wed, 02 Jan 2030 03:04:07 GMT": 2 * time.Second,
		"Wed, 02 Jan 2030 03:04:00 GMT": 0, // past
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestPace checks the wait between cycle starts: the poll interval unless
// IMDS throttled, then doubling per throttled cycle, stretched to a longer
// Retry-After, never past MaxBackoff.
func TestPace(t *testing.T) {
	tests := []struct {
		name       string
		maxBackoff time.Duration
		throttled  int
		hint, want time.Duration
	}{
		{"not throttled", 2 * time.Second, 0, 0, time.Second},
		{"hint ignored without a 429", 2 * time.Second, 0, 5 * time.Second, time.Second},
		{"one 429", 2 * time.Second, 1, 0, 2 * time.Second},
		{"many 429s stay at the cap", 2 * time.Second, 9, 0, 2 * time.Second},
		{"short hint keeps the doubling", 10 * time.Second, 2, time.Second, 4 * time.Second},
		{"longer hint honoured", 10 * time.Second, 1, 7 * time.Second, 7 * time.Second},
		{"hint capped", 2 * time.Second, 1, time.Minute, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(Config{MaxBackoff: tt.maxBackoff})
			if err != nil {
				t.Fatal(err)
			}
			p := newPoller(NewWatcher(c), make(chan Notice))
			p.throttled, p.hinted = tt.throttled, tt.hint
			if got := p.pace(); got != tt.want {
				t.Errorf("pace = %v, want %v", got, tt.want)
			}
		})
	}
}
