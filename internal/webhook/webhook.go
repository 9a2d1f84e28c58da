// Package webhook posts spot-handler's notifications — a notice, its
// cancellation, the end of a drain — to the operator's URL, for the agent
// and the controller alike. The body is a Go text/template over Data
// (Slack-compatible by default). A post never blocks or fails a drain: it
// runs in the background, bounded by Timeout, and its failure is logged
// (never the URL, which may hold a token) and counted. NewClient adds the
// operator's headers (--webhook-header) and proxy (--webhook-proxy, else
// HTTPS_PROXY/HTTP_PROXY/NO_PROXY).
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spot-handler/spot-handler/pkg/imds"
)

// Timeout bounds one POST.
const Timeout = 5 * time.Second

// DefaultTemplate is a Slack-compatible {"text": ...} body.
const DefaultTemplate = `{"text": {{ json (printf "spot-handler: %s on node %s (%s%s): %s" .Kind .Node .Event (ifset .Action) (or .Summary (printf "must be empty by %s" (rfc3339 .Deadline)))) }}}`

// EventDrained is Data.Event of a drain's end (the state machine names the
// others: notice, canceled).
const EventDrained = "drained"

// The outcomes Config.Posts counts.
const (
	OutcomeOK    = "ok"
	OutcomeError = "error"
)

// Data is what a webhook template sees.
type Data struct {
	// Event is notice, drained or canceled; in a dry run (--dry-run-webhook)
	// "dry-run notice" or "dry-run canceled".
	Event string
	// DryRun is true when the process runs with --dry-run and changed nothing.
	DryRun bool
	// Node, Kind (notice kind), Action (terminate, ...) and Policy (what
	// spot-handler does about it).
	Node, Kind, Action, Policy string
	// Deadline is when the instance goes away.
	Deadline time.Time
	// Summary is the drain's one-line summary (drained events).
	Summary string
	// Empty is true when the drain emptied the node in time.
	Empty bool
	// Identity is the instance's identity, nil if not known: the agent's
	// from IMDS; the controller's from the message's instance ID and the
	// Node's zone and instance-type labels (Region and LifeCycle empty).
	Identity *imds.Identity
}

// DryRun marks d as a dry run's: DryRun set, Event prefixed "dry-run ".
func DryRun(d Data) Data {
	d.DryRun = true
	d.Event = "dry-run " + d.Event
	return d
}

// Config is what a Sender needs.
type Config struct {
	// URL receives the POSTs; "" makes a Sender that posts nothing.
	URL string
	// Template is the body's Go text/template; "" = DefaultTemplate.
	Template string
	// Client posts; nil = a client with Timeout (NewClient adds headers
	// and a proxy).
	Client *http.Client
	// Posts counts posts by outcome (OutcomeOK, OutcomeError); one label.
	Posts *prometheus.CounterVec
	// Logger logs failed posts.
	Logger *zap.Logger
}

// Sender posts notifications in the background. A nil *Sender posts nothing.
type Sender struct {
	url    string
	tpl    *template.Template
	client *http.Client
	posts  *prometheus.CounterVec
	log    *zap.Logger
	wg     sync.WaitGroup
}

var funcs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"rfc3339": RFC3339,
	"ifset": func(s string) string {
		if s == "" {
			return ""
		}
		return ", " + s
	},
}

// New parses the template and tries it on sample data, so a bad template
// fails at start-up, and checks the URL. Its errors name the flag
// (--webhook-template, --webhook-url) and never show the URL.
func New(cfg Config) (*Sender, error) {
	text := cfg.Template
	if text == "" {
		text = DefaultTemplate
	}
	tpl, err := template.New("webhook").Funcs(funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("--webhook-template: %w", err)
	}
	sample := Data{Event: "notice", Node: "ip-10-0-0-1", Kind: "SpotInterruption", Action: "terminate", Deadline: time.Now(),
		Identity: &imds.Identity{InstanceType: "m5.large"}}
	if err := tpl.Execute(io.Discard, sample); err != nil {
		return nil, fmt.Errorf("--webhook-template does not render: %w", err)
	}
	if cfg.URL != "" {
		u, err := url.Parse(cfg.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("--webhook-url is not an http(s) URL (value not shown: it may hold a secret)")
		}
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: Timeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Sender{url: cfg.URL, tpl: tpl, client: cfg.Client, posts: cfg.Posts, log: cfg.Logger}, nil
}

// Send posts d in the background; failures are logged (never the URL) and
// counted. Without a URL it does nothing.
func (s *Sender) Send(d Data) {
	if s == nil || s.url == "" {
		return
	}
	s.wg.Go(func() {
		outcome := OutcomeOK
		if err := s.post(d); err != nil {
			outcome = OutcomeError
			s.log.Warn("webhook failed", zap.String("event", d.Event), zap.String("node", d.Node), zap.Error(err))
		}
		if s.posts != nil {
			s.posts.WithLabelValues(outcome).Inc()
		}
	})
}

func (s *Sender) post(d Data) error {
	var body bytes.Buffer
	if err := s.tpl.Execute(&body, d); err != nil {
		return fmt.Errorf("rendering webhook template: %w", err)
	}
	// Not the caller's context: a notice's post outlives the drain that
	// sent it and the process's shutdown signal, bounded by Timeout.
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, &body)
	if err != nil {
		return errors.New("building webhook request failed")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the URL: it may carry a token
		}
		return fmt.Errorf("posting webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("posting webhook: answered %s", resp.Status)
	}
	return nil
}

// Wait blocks until every post in flight is done (each is bounded by
// Timeout).
func (s *Sender) Wait() {
	if s != nil {
		s.wg.Wait()
	}
}

// RFC3339 formats t for people and webhooks ("" for the zero time).
func RFC3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
