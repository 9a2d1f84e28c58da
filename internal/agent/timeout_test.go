package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// TestBoundCalls: a call the server never answers ends after the bound; a
// watch that streams longer than the bound is not cut. httptest stands in
// for a hung API server, which the real plane cannot be made to be without
// the fault proxy.
func TestBoundCalls(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("watch") == "true" {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			time.Sleep(600 * time.Millisecond)
			_, _ = w.Write([]byte("done"))
			return
		}
		<-r.Context().Done() // hang until the client gives up
	}))
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL}
	BoundCalls(cfg, 200*time.Millisecond)
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/api/v1/nodes/n1", nil)
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("a hung call returned without error")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("hung call took %v, want about the 200ms bound", took)
	}
	req, _ = http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/api/v1/nodes?watch=true", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 16)
	n, _ := resp.Body.Read(buf)
	for n == 0 {
		var err error
		n, err = resp.Body.Read(buf)
		if err != nil {
			t.Fatalf("watch cut before it ended: %v", err)
		}
	}
	if string(buf[:n]) != "done" {
		t.Errorf("watch read %q, want done", buf[:n])
	}
}
