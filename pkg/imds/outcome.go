package imds

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Observer receives one call per IMDS request: path is the metadata path
// without the /latest/ prefix (e.g. "meta-data/spot/instance-action"),
// outcome is one of [Outcomes], at is the watcher's clock time when the
// request ended. The agent turns these calls into the metrics
// spot_handler_imds_requests_total{path,outcome} and
// spot_handler_imds_last_success_timestamp_seconds; "ok" and "not_found"
// count as success, as they do for [Watcher.LastSuccess]. Calls come from
// the goroutine making the request and must not block.
//
// A request is one logical read of a path: the token request and the single
// retry after a 401 belong to it. Requests cut short because the caller's
// context ended are not observed.
type Observer interface {
	ObserveRequest(path, outcome string, at time.Time)
}

// Outcomes of an IMDS request.
const (
	// OutcomeOK is a 2xx answer whose body parsed.
	OutcomeOK = "ok"
	// OutcomeNotFound is a 404: the path has no notice now.
	OutcomeNotFound = "not_found"
	// OutcomeUnauthorized is a 401 that the token refresh did not cure.
	OutcomeUnauthorized = "unauthorized"
	// OutcomeForbidden is a 403: IMDS is disabled for this instance.
	OutcomeForbidden = "forbidden"
	// OutcomeThrottled is a 429: too many requests.
	OutcomeThrottled = "throttled"
	// OutcomeServerError is a 5xx.
	OutcomeServerError = "server_error"
	// OutcomeTimeout is no answer within Config.RequestTimeout; from a pod
	// this is typical of a metadata hop limit of 1.
	OutcomeTimeout = "timeout"
	// OutcomeConnectionError is a refused, reset or otherwise failed
	// connection.
	OutcomeConnectionError = "connection_error"
	// OutcomeParseError is a 2xx answer whose body was malformed or larger
	// than 64 KiB.
	OutcomeParseError = "parse_error"
	// OutcomeOther is any other failure, such as an unexpected status.
	OutcomeOther = "other"
)

// Outcomes returns every outcome an [Observer] can see, so the agent can
// initialise its counters.
func Outcomes() []string {
	return []string{
		OutcomeOK, OutcomeNotFound, OutcomeUnauthorized, OutcomeForbidden,
		OutcomeThrottled, OutcomeServerError, OutcomeTimeout,
		OutcomeConnectionError, OutcomeParseError, OutcomeOther,
	}
}

// reachable reports whether the outcome means IMDS answered the request, so
// the watcher counts it as a success (a 404 says IMDS is there).
func reachable(outcome string) bool {
	return outcome == OutcomeOK || outcome == OutcomeNotFound
}

// classify maps a failed request to an outcome from what the transport saw
// (tr), the error the SDK returned and the request's own context.
func classify(tr *trace, err error, reqCtx context.Context) string {
	switch {
	case err == nil:
		return OutcomeOK
	case tr.tooLarge:
		return OutcomeParseError
	case errors.Is(reqCtx.Err(), context.DeadlineExceeded), tr.timeout, isTimeout(err):
		return OutcomeTimeout
	case tr.token && tr.status == http.StatusNotFound:
		// An IMDS without IMDSv2 answers the token request 404; that is not
		// the metadata path's "no notice".
		return OutcomeOther
	case tr.status != 0:
		return statusOutcome(tr.status)
	case tr.sendErr:
		return OutcomeConnectionError
	}
	return OutcomeOther
}

// statusOutcome maps a non-2xx HTTP status to an outcome.
func statusOutcome(status int) string {
	switch {
	case status >= 200 && status < 300:
		return OutcomeOther // a 2xx that still failed, e.g. a cut-off body
	case status == http.StatusNotFound:
		return OutcomeNotFound
	case status == http.StatusUnauthorized:
		return OutcomeUnauthorized
	case status == http.StatusForbidden:
		return OutcomeForbidden
	case status == http.StatusTooManyRequests:
		return OutcomeThrottled
	case status >= 500:
		return OutcomeServerError
	}
	return OutcomeOther
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
