package controller

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookReceiver is the operator's webhook endpoint on 127.0.0.1: it records
// every POST; the first hold requests are held until the client gives up,
// the others answered with status.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	held   int // requests being held right now
}

func newHookReceiver(t *testing.T, hold, status int) *hookReceiver {
	t.Helper()
	r := &hookReceiver{}
	release := make(chan struct{})
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		n := len(r.bodies)
		if n <= hold {
			r.held++
		}
		r.mu.Unlock()
		if n <= hold {
			select {
			case <-req.Context().Done(): // the controller's client gave up
			case <-release:
			}
			r.mu.Lock()
			r.held--
			r.mu.Unlock()
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(func() { close(release); r.Close() })
	return r
}

// posts returns the bodies received so far, and how many are being held.
func (r *hookReceiver) posts() ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...), r.held
}

// hookBody is what hookTemplate renders.
type hookBody struct {
	Event, Node, Instance, Zone, Kind, Action, Deadline, Summary, Policy string
	Empty, DryRun                                                        bool
}

// hookTemplate renders every field a notification carries as JSON.
const hookTemplate = `{"event":{{ json .Event }},"node":{{ json .Node }},"instance":{{ json .Identity.InstanceID }},` +
	`"zone":{{ json .Identity.AvailabilityZone }},"kind":{{ json .Kind }},"action":{{ json .Action }},` +
	`"deadline":{{ json (rfc3339 .Deadline) }},"summary":{{ json .Summary }},"policy":{{ json .Policy }},"empty":{{ .Empty }},"dryrun":{{ .DryRun }}}`

// TestWebhookNoticeAndDrain: a Spot warning delivered twice posts one
// notice webhook and, once the node is empty, one drained webhook, each
// naming the node, the instance and its zone, the kind and the recorded
// deadline; the drained one carries the drain's summary. The URL (it may
// hold a token) is never logged.
func TestWebhookNoticeAndDrain(t *testing.T) {
	e := newEnv(t, 30)
	in := e.nodes(1, 3, 5, 0)[0]
	hook := newHookReceiver(t, 0, http.StatusOK)
	tpl := filepath.Join(t.TempDir(), "hook.tmpl")
	if err := os.WriteFile(tpl, []byte(hookTemplate), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startController(t, "c1", e.queueURL, "", "--leader-elect-name", e.lease, "--webhook-url", hook.URL+"/services/secret-token", "--webhook-template", tpl)
	body := spotEvent(in.id, time.Now())
	e.send(body, body)

	waitUntil(t, 60*time.Second, "node empty, messages deleted, two webhooks", func() bool {
		got, _ := hook.posts()
		return e.podsOn(in.node) == 0 && e.inQueue() == 0 && len(got) >= 2
	})
	time.Sleep(2 * time.Second) // a duplicate post would come by now
	got, _ := hook.posts()
	byEvent := map[string][]hookBody{}
	for _, b := range got {
		var h hookBody
		if err := json.Unmarshal([]byte(b), &h); err != nil {
			t.Fatalf("webhook body %q: %v", b, err)
		}
		byEvent[h.Event] = append(byEvent[h.Event], h)
	}
	if len(got) != 2 || len(byEvent["notice"]) != 1 || len(byEvent["drained"]) != 1 {
		t.Fatalf("webhooks %q: want one notice and one drained (the duplicate message is an update)", got)
	}
	rec := e.notice(in.node)
	if rec == nil {
		t.Fatal("no notice record on the node")
	}
	deadline := rec.Deadline.UTC().Format(time.RFC3339)
	for _, h := range []hookBody{byEvent["notice"][0], byEvent["drained"][0]} {
		if h.Node != in.node || h.Instance != in.id || h.Zone != in.zone || h.Kind != "SpotInterruption" || h.Action != "terminate" ||
			h.Deadline != deadline || h.DryRun {
			t.Errorf("%s webhook %+v: want node %s, instance %s, zone %s, SpotInterruption/terminate, deadline %s", h.Event, h, in.node, in.id, in.zone, deadline)
		}
	}
	if n := byEvent["notice"][0]; n.Policy != "drain" || n.Summary != "" {
		t.Errorf("notice webhook %+v: want policy drain and no summary yet", n)
	}
	if d := byEvent["drained"][0]; !d.Empty || !strings.Contains(d.Summary, "3 pods") {
		t.Errorf("drained webhook %+v: want empty and the drain's summary of its 3 pods", d)
	}
	if v := c.metric("spot_handler_webhook_requests_total", `outcome="ok"`); v != 2 {
		t.Errorf("webhook posts ok = %v, want 2", v)
	}
	if strings.Contains(c.logs(), "secret-token") {
		t.Error("the webhook URL appears in the controller's log")
	}
}

// TestWebhookFailingDoesNotHoldDrains: the endpoint holds the first post
// until the controller's client gives up and answers 500 to the rest. The
// node is cordoned while that post is still held (the drain does not wait
// for it), it empties, a second node's message received afterwards is
// handled and drained too, and every failed post is counted.
func TestWebhookFailingDoesNotHoldDrains(t *testing.T) {
	e := newEnv(t, 30)
	ins := e.nodes(2, 2, 5, 0)
	hook := newHookReceiver(t, 1, http.StatusInternalServerError)
	c := startController(t, "c1", e.queueURL, "", "--leader-elect-name", e.lease, "--webhook-url", hook.URL)
	e.send(spotEvent(ins[0].id, time.Now()))
	var heldAtCordon int
	waitUntil(t, 60*time.Second, "first node cordoned", func() bool {
		if !cordoned(e.node(ins[0].node)) {
			return false
		}
		_, heldAtCordon = hook.posts()
		return true
	})
	if heldAtCordon != 1 {
		t.Errorf("when the node was cordoned, %d webhook posts were held, want 1: the cordon waited for the webhook", heldAtCordon)
	}
	waitUntil(t, 60*time.Second, "first node empty", func() bool { return e.podsOn(ins[0].node) == 0 })
	e.send(spotEvent(ins[1].id, time.Now()))
	waitUntil(t, 60*time.Second, "second node drained, messages deleted", func() bool {
		return cordoned(e.node(ins[1].node)) && e.podsOn(ins[1].node) == 0 && e.inQueue() == 0
	})
	waitUntil(t, 30*time.Second, "4 failed posts counted (2 notices, 2 drains)", func() bool {
		return c.metric("spot_handler_webhook_requests_total", `outcome="error"`) == 4
	})
	if v := c.metric("spot_handler_webhook_requests_total", `outcome="ok"`); v != 0 {
		t.Errorf("webhook posts ok = %v, want 0", v)
	}
	if got := c.metric("spot_handler_queue_messages_total", `outcome="handled"`); got != 2 {
		t.Errorf("handled messages %v, want 2", got)
	}
	if !strings.Contains(c.logs(), "webhook failed") {
		t.Error(`no "webhook failed" in the controller's log`)
	}
}
