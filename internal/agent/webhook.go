package agent

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

	"go.uber.org/zap"

	"github.com/spot-handler/spot-handler/internal/metrics"
	"github.com/spot-handler/spot-handler/pkg/imds"
)

// webhookTimeout bounds one POST.
const webhookTimeout = 5 * time.Second

// DefaultWebhookTemplate is a Slack-compatible {"text": ...} body.
const DefaultWebhookTemplate = `{"text": {{ json (printf "spot-handler: %s on node %s (%s%s): %s" .Kind .Node .Event (ifset .Action) (or .Summary (printf "must be empty by %s" (rfc3339 .Deadline)))) }}}`

// hookData is what a webhook template sees.
type hookData struct {
	// Event is notice, drained or canceled; in a dry run (--dry-run-webhook)
	// "dry-run notice" or "dry-run canceled".
	Event string
	// DryRun is true when the agent runs with --dry-run and changed nothing.
	DryRun bool
	// Node, Kind (notice kind), Action (terminate, ...) and Policy (what the
	// agent does about it).
	Node, Kind, Action, Policy string
	// Deadline is when the instance goes away.
	Deadline time.Time
	// Summary is the drain's one-line summary (drained events).
	Summary string
	// Empty is true when the drain emptied the node in time.
	Empty bool
	// Identity is the instance's identity, nil if not known yet.
	Identity *imds.Identity
}

// webhook posts notifications without ever blocking or failing a drain.
type webhook struct {
	url    string
	tpl    *template.Template
	client *http.Client
	m      *metrics.Metrics
	log    *zap.Logger
	wg     sync.WaitGroup
}

var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"rfc3339": rfc3339,
	"ifset": func(s string) string {
		if s == "" {
			return ""
		}
		return ", " + s
	},
}

// newWebhook parses the template (text; "" = DefaultWebhookTemplate) and
// tries it on sample data, so a bad template fails at start-up.
func newWebhook(rawURL, text string, client *http.Client, m *metrics.Metrics, log *zap.Logger) (*webhook, error) {
	if text == "" {
		text = DefaultWebhookTemplate
	}
	tpl, err := template.New("webhook").Funcs(templateFuncs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("--webhook-template: %w", err)
	}
	sample := hookData{Event: "notice", Node: "ip-10-0-0-1", Kind: "SpotInterruption", Action: "terminate", Deadline: time.Now(),
		Identity: &imds.Identity{InstanceType: "m5.large"}}
	if err := tpl.Execute(io.Discard, sample); err != nil {
		return nil, fmt.Errorf("--webhook-template does not render: %w", err)
	}
	if rawURL != "" {
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("--webhook-url is not an http(s) URL (value not shown: it may hold a secret)")
		}
	}
	if client == nil {
		client = &http.Client{Timeout: webhookTimeout}
	}
	return &webhook{url: rawURL, tpl: tpl, client: client, m: m, log: log}, nil
}

// send posts d in the background; failures are logged (never the URL) and
// counted.
func (w *webhook) send(d hookData) {
	if w.url == "" {
		return
	}
	w.wg.Go(func() {
		err := w.post(d)
		if err != nil {
			w.m.Webhook.WithLabelValues("error").Inc()
			w.log.Warn("webhook failed", zap.String("event", d.Event), zap.Error(err))
			return
		}
		w.m.Webhook.WithLabelValues("ok").Inc()
	})
}

func (w *webhook) post(d hookData) error {
	var body bytes.Buffer
	if err := w.tpl.Execute(&body, d); err != nil {
		return fmt.Errorf("rendering webhook template: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), webhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, &body)
	if err != nil {
		return errors.New("building webhook request failed")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
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

// wait blocks until every webhook in flight is done (each is bounded by
// webhookTimeout).
func (w *webhook) wait() { w.wg.Wait() }
