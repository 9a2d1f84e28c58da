package testenv

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// writeStatus answers with the rule's status and a metav1.Status body, as
// the apiserver would.
func writeStatus(w http.ResponseWriter, r Rule) {
	msg := r.Message
	if msg == "" {
		msg = fmt.Sprintf("injected by the test's fault proxy: %d %s", r.Status, http.StatusText(r.Status))
	}
	st := metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
		Message: msg, Reason: reasonFor(r.Status), Code: int32(r.Status)}
	if len(r.Causes) > 0 {
		st.Details = &metav1.StatusDetails{Causes: r.Causes}
	}
	if r.Status == http.StatusTooManyRequests {
		ra := r.RetryAfter
		if ra <= 0 {
			ra = 1
		}
		if st.Details == nil {
			st.Details = &metav1.StatusDetails{}
		}
		st.Details.RetryAfterSeconds = int32(ra)
		w.Header().Set("Retry-After", strconv.Itoa(ra))
	}
	b, _ := json.Marshal(st)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.Status)
	_, _ = w.Write(b)
}

// reasons are the StatusReasons the apiserver gives with these codes.
var reasons = map[int]metav1.StatusReason{
	http.StatusBadRequest:          metav1.StatusReasonBadRequest,
	http.StatusForbidden:           metav1.StatusReasonForbidden,
	http.StatusNotFound:            metav1.StatusReasonNotFound,
	http.StatusConflict:            metav1.StatusReasonConflict,
	http.StatusUnprocessableEntity: metav1.StatusReasonInvalid,
	http.StatusTooManyRequests:     metav1.StatusReasonTooManyRequests,
	http.StatusServiceUnavailable:  metav1.StatusReasonServiceUnavailable,
	http.StatusGatewayTimeout:      metav1.StatusReasonTimeout,
	http.StatusInternalServerError: metav1.StatusReasonInternalError,
}

// reasonFor is the StatusReason the apiserver gives with code (Unknown for
// a code not in reasons).
func reasonFor(code int) metav1.StatusReason {
	if r, ok := reasons[code]; ok {
		return r
	}
	return metav1.StatusReasonUnknown
}

// resetConn closes the client's connection with a TCP RST, no answer.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	var tcp *net.TCPConn
	if tc, ok := conn.(interface{ NetConn() net.Conn }); ok {
		tcp, _ = tc.NetConn().(*net.TCPConn)
	}
	if tcp != nil {
		_ = tcp.SetLinger(0)
		_ = tcp.Close()
		return
	}
	_ = conn.Close()
}

// statusRecorder remembers the status written through it, and hands it to
// seen before the client can read it: a test that reads the log right
// after its request returned finds the status there.
type statusRecorder struct {
	http.ResponseWriter
	status int
	seen   func(int)
}

func (s *statusRecorder) WriteHeader(code int) {
	s.note(code)
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.note(http.StatusOK)
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) note(code int) {
	if s.status != 0 {
		return
	}
	s.status = code
	if s.seen != nil {
		s.seen(code)
	}
}

// Unwrap lets http.ResponseController flush and hijack through it.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// certPEM encodes a DER certificate as PEM.
func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
