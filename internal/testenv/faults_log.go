package testenv

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
)

// Logged is one request that went through a Faults proxy.
type Logged struct {
	// At is when the request arrived.
	At time.Time
	// Method, Path and Query (decoded) are the request's.
	Method, Path, Query string
	// UID is the precondition UID of an eviction or a delete ("" if none):
	// it tells which pod a request was for, even one replaced by a
	// namesake.
	UID types.UID
	// Fault names what a rule did to it ("status 503", "hang", ...), or ""
	// if it went through untouched.
	Fault string
	// Status is the HTTP status the client got, logged before the client
	// could read it; 0 if it got none (reset, hung until it gave up,
	// apiserver unreachable).
	Status int
	// Done is false while the request is still being served.
	Done bool
}

// IsEviction reports whether the request asked to evict a pod.
func (l Logged) IsEviction() bool {
	return l.Method == http.MethodPost && evictionPath.MatchString(l.Path)
}

var evictionPath = regexp.MustCompile(`^/api/v1/namespaces/[^/]+/pods/[^/]+/eviction$`)

// record logs a request as it arrives, reading (and restoring) the body of
// a write to learn its precondition UID.
func (f *Faults) record(r *http.Request, query string) *Logged {
	e := &Logged{At: time.Now(), Method: r.Method, Path: r.URL.Path, Query: query}
	if r.Body != nil && (r.Method == http.MethodPost || r.Method == http.MethodDelete) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body.Close()
		if err == nil {
			r.Body = io.NopCloser(bytes.NewReader(b))
			e.UID = preconditionUID(b)
		}
	}
	f.mu.Lock()
	f.log = append(f.log, e)
	f.mu.Unlock()
	return e
}

func (f *Faults) setFault(e *Logged, s string) {
	f.mu.Lock()
	e.Fault = s
	f.mu.Unlock()
}

func (f *Faults) setStatus(e *Logged, status int) {
	f.mu.Lock()
	e.Status = status
	f.mu.Unlock()
}

func (f *Faults) finish(e *Logged, status int) {
	f.mu.Lock()
	e.Status, e.Done = status, true
	f.mu.Unlock()
}

// preconditionUID decodes an Eviction or DeleteOptions body (JSON or
// protobuf) and returns its UID precondition.
func preconditionUID(body []byte) types.UID {
	if len(body) == 0 {
		return ""
	}
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
	if err != nil {
		return ""
	}
	var pre *metav1.Preconditions
	switch o := obj.(type) {
	case *policyv1.Eviction:
		if o.DeleteOptions != nil {
			pre = o.DeleteOptions.Preconditions
		}
	case *metav1.DeleteOptions:
		pre = o.Preconditions
	}
	if pre == nil || pre.UID == nil {
		return ""
	}
	return *pre.UID
}

// Requests returns a copy of the log, oldest first.
func (f *Faults) Requests() []Logged {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Logged, len(f.log))
	for i, e := range f.log {
		out[i] = *e
	}
	return out
}

// Count returns how many logged requests match m.
func (f *Faults) Count(m Match) int {
	n := 0
	for _, e := range f.Requests() {
		if m.matches(e.Method, e.Path, e.Query) {
			n++
		}
	}
	return n
}

// Evictions counts eviction requests per pod UID (their UID precondition).
func (f *Faults) Evictions() map[types.UID]int {
	m := map[types.UID]int{}
	for _, e := range f.Requests() {
		if e.IsEviction() {
			m[e.UID]++
		}
	}
	return m
}

// Deletes counts pod DELETE requests per pod UID (their UID precondition).
func (f *Faults) Deletes() map[types.UID]int {
	m := map[types.UID]int{}
	for _, e := range f.Requests() {
		if e.Method == http.MethodDelete && podPath.MatchString(e.Path) {
			m[e.UID]++
		}
	}
	return m
}

var podPath = regexp.MustCompile(`^/api/v1/namespaces/[^/]+/pods/[^/]+$`)

// EvictionPath is a Match.Path for eviction requests.
const EvictionPath = `^/api/v1/namespaces/[^/]+/pods/[^/]+/eviction$`
