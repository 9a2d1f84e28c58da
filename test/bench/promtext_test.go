package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// counters is one metric's samples by label set (`{a="b",…}`, "" for none).
type counters map[string]float64

// parseSamples returns the samples of metric name in a Prometheus text
// exposition.
func parseSamples(text []byte, name string) counters {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? (\S+)`)
	out := counters{}
	for _, m := range re.FindAllSubmatch(text, -1) {
		v, err := strconv.ParseFloat(string(m[2]), 64)
		if err == nil {
			out[string(m[1])] += v
		}
	}
	return out
}

// scrapeSamples GETs url (a /metrics) and returns metric name's samples.
func scrapeSamples(ctx context.Context, url, name string) (counters, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	return parseSamples(raw, name), nil
}

// apiserverRequests returns apiserver_request_total, every request the
// API server answered, by label set, from its own /metrics.
func apiserverRequests(ctx context.Context) (counters, error) {
	return apiserverMetric(ctx, "apiserver_request_total")
}

// apiserverMetric returns metric name's samples from the API server's own
// /metrics.
func apiserverMetric(ctx context.Context, name string) (counters, error) {
	raw, err := plane.Client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the API server's /metrics: %w", err)
	}
	return parseSamples(raw, name), nil
}

// add adds o's samples to c.
func (c counters) add(o counters) {
	for k, v := range o {
		c[k] += v
	}
}

// minus returns c − earlier, the label sets that changed only.
func (c counters) minus(earlier counters) counters {
	out := counters{}
	for k, v := range c {
		if d := v - earlier[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// sum is the total of the samples whose label set holds every `k="v"` in
// match.
func (c counters) sum(match ...string) float64 {
	t := 0.0
	for k, v := range c {
		ok := true
		for _, kv := range match {
			ok = ok && strings.Contains(k, kv)
		}
		if ok {
			t += v
		}
	}
	return t
}

// by totals the samples by the values of the labels keys and lists the
// groups largest first, "GET nodes 12" (at most top of them; 0: all),
// each total divided by per.
func (c counters) by(top int, per float64, keys ...string) string {
	groups := map[string]float64{}
	for k, v := range c {
		var vals []string
		for _, key := range keys {
			vals = append(vals, labelValue(k, key))
		}
		groups[strings.Join(vals, " ")] += v
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Slice(names, func(i, j int) bool { return groups[names[i]] > groups[names[j]] })
	if top > 0 && len(names) > top {
		names = names[:top]
	}
	var parts []string
	for _, g := range names {
		parts = append(parts, fmt.Sprintf("%s %.4g", strings.TrimSpace(g), groups[g]/per))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// labelValue returns label key's value in a label set ("" if absent).
func labelValue(set, key string) string {
	i := strings.Index(set, key+`="`)
	if i < 0 || (i > 0 && set[i-1] != '{' && set[i-1] != ',') {
		return ""
	}
	rest := set[i+len(key)+2:]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return ""
}
