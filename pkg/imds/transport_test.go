package imds

import (
	"errors"
	"io"
	"strings"
	"testing"
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
