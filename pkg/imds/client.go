package imds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	sdkimds "github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"go.uber.org/zap"
	"k8s.io/utils/clock"
)

// Defaults for zero Config fields.
const (
	// DefaultPollInterval is 1s: a spot notice comes about 120s ahead, so a
	// 1s poll loses at most 1s of it, and four requests a second stay far
	// below IMDS's per-instance limit (about 1024 packets per second).
	DefaultPollInterval = time.Second
	// DefaultRequestTimeout is 1s: IMDS answers in milliseconds when it is
	// reachable, and a hung request must not delay the next poll for long.
	DefaultRequestTimeout = time.Second
	// DefaultBackoffPolls is how many poll intervals the wait between
	// cycles may grow to while IMDS answers 429 (MaxBackoff's default): 2s
	// at the default poll, so a notice served just after throttling ends is
	// still seen within poll interval + 1s.
	DefaultBackoffPolls = 2
)

// Limits on Config values.
const (
	minPollInterval = 50 * time.Millisecond
	spotNotice      = 2 * time.Minute
)

// Config configures a [Client] and its [Watcher].
type Config struct {
	// Endpoint is the IMDS base URL, e.g. http://127.0.0.1:1338 for AEMM.
	// "" means the SDK's default: $AWS_EC2_METADATA_SERVICE_ENDPOINT if set,
	// else http://169.254.169.254.
	Endpoint string
	// PollInterval is the time between poll cycles. 0 means
	// DefaultPollInterval (1s); it must be at least 50ms.
	PollInterval time.Duration
	// RequestTimeout bounds each request, including its token request and
	// retry. 0 means DefaultRequestTimeout (1s).
	RequestTimeout time.Duration
	// MaxBackoff caps the wait between cycles after consecutive cycles in
	// which IMDS answered 429 (the only fault that slows polling): the wait
	// doubles from PollInterval, stretched to a longer Retry-After, up to
	// it. It also caps the wait between WaitIdentity's attempts. 0 means
	// DefaultBackoffPolls × PollInterval (2s at the default poll). It must
	// be at least PollInterval and under the 2-minute spot notice.
	MaxBackoff time.Duration
	// Clock drives poll intervals, backoff, Detected times and log rate
	// limits. nil means the real clock. Per-request timeouts always use real
	// time.
	Clock clock.WithTicker
	// Logger receives fault and recovery logs. nil means zap.NewNop().
	Logger *zap.Logger
	// Observer is told the outcome of every request. nil means none.
	Observer Observer
}

// Client reads instance metadata through the AWS SDK's IMDS client,
// configured for IMDSv2 only. It is safe for concurrent use.
type Client struct {
	cfg  Config
	sdk  *sdkimds.Client
	log  *zap.Logger
	hint *hints
}

// NewClient checks cfg, fills its defaults and builds a client. It does not
// contact IMDS.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.defaults(); err != nil {
		return nil, fmt.Errorf("configuring IMDS client: %w", err)
	}
	retryer := retry.NewStandard(func(o *retry.StandardOptions) {
		// One retry, only for errors the SDK marks retryable: a 401 after
		// which its token provider fetches a fresh token. Throttling, 5xx and
		// timeouts are left to the watcher, which tries again next cycle
		// (later only after a 429), so requests stay within RequestTimeout
		// and the poll cadence predictable.
		o.MaxAttempts = 2
		o.Retryables = []retry.IsErrorRetryable{retry.NoRetryCanceledError{}, retry.RetryableError{}}
		o.RateLimiter = ratelimit.None
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
	})
	sdk := sdkimds.New(sdkimds.Options{
		Endpoint:   cfg.Endpoint,
		HTTPClient: newHTTPClient(cfg.RequestTimeout),
		Retryer:    retryer,
		// IMDSv2 only: never fall back to token-less IMDSv1 requests.
		EnableFallback: aws.FalseTernary,
		// Enabled regardless of AWS_EC2_METADATA_DISABLED, which is meant for
		// SDK credential lookups; reading IMDS is this agent's whole job.
		ClientEnableState: sdkimds.ClientEnabled,
		// Each request gets its own RequestTimeout deadline instead.
		DisableDefaultTimeout: true,
		// Keep the retryer's zero delay: the SDK would otherwise wait up to
		// 1s before the retry that carries a fresh token.
		DisableDefaultMaxBackoff: true,
	})
	return &Client{cfg: cfg, sdk: sdk, log: cfg.Logger, hint: newHints(cfg.Logger, cfg.Clock)}, nil
}

// defaults fills zero fields and checks the rest.
func (c *Config) defaults() error {
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("endpoint %q is not a URL like http://169.254.169.254", c.Endpoint)
		}
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultBackoffPolls * c.PollInterval
	}
	switch {
	case c.PollInterval < minPollInterval:
		return fmt.Errorf("poll interval %v is too short; want at least %v", c.PollInterval, minPollInterval)
	case c.RequestTimeout < 0:
		return fmt.Errorf("request timeout %v is negative; want a positive duration such as 1s", c.RequestTimeout)
	case c.MaxBackoff < c.PollInterval:
		return fmt.Errorf("max backoff %v is shorter than the poll interval %v", c.MaxBackoff, c.PollInterval)
	case c.MaxBackoff >= spotNotice:
		return fmt.Errorf("max backoff %v is not under the 2-minute spot notice; want a few poll intervals", c.MaxBackoff)
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return nil
}

// errNotFound is returned by get for a 404: the path has nothing now.
var errNotFound = errors.New("IMDS path not found")

// get reads one metadata path, such as "meta-data/instance-id", and returns
// its body and outcome. The caller reports the outcome to the observer once
// the body has been parsed. A 404 returns errNotFound.
func (c *Client) get(ctx context.Context, path string) ([]byte, string, error) {
	tr := &trace{}
	rctx, cancel := context.WithTimeout(withTrace(ctx, tr), c.cfg.RequestTimeout)
	defer cancel()
	in := &sdkimds.GetMetadataInput{Path: strings.TrimPrefix(path, "meta-data/")}
	out, err := c.sdk.GetMetadata(rctx, in)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(out.Content)
		out.Content.Close()
	}
	outcome := classify(tr, err, rctx)
	switch {
	case outcome == OutcomeNotFound:
		return nil, outcome, fmt.Errorf("reading %s: %w", path, errNotFound)
	case outcome == OutcomeThrottled:
		return nil, outcome, fmt.Errorf("reading %s: %w", path, &throttledError{err: err, retryAfter: tr.retryAfter})
	case err != nil:
		if outcome == OutcomeForbidden || (outcome == OutcomeTimeout && tr.token) {
			c.hint.unreachable(path, outcome)
		}
		return nil, outcome, fmt.Errorf("reading %s: %w", path, err)
	}
	return body, outcome, nil
}

// throttledError is a 429 answer with the wait its Retry-After asked for.
type throttledError struct {
	err        error
	retryAfter time.Duration // 0: no hint
}

// Error returns the SDK's error text.
func (e *throttledError) Error() string { return "IMDS throttled the request: " + e.err.Error() }

// Unwrap returns the SDK's error.
func (e *throttledError) Unwrap() error { return e.err }

// retryAfter returns the Retry-After wait err carries (0 if none).
func retryAfter(err error) time.Duration {
	var t *throttledError
	if errors.As(err, &t) {
		return t.retryAfter
	}
	return 0
}

// observe reports a request's outcome unless the caller's context ended,
// which is shutdown rather than an IMDS fault.
func (c *Client) observe(ctx context.Context, path, outcome string) time.Time {
	now := c.cfg.Clock.Now()
	if ctx.Err() == nil && c.cfg.Observer != nil {
		c.cfg.Observer.ObserveRequest(path, outcome, now)
	}
	return now
}
