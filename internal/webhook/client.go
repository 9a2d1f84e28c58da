package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// headerName is an HTTP header name: an RFC 9110 token.
var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// ParseHeaders reads "Name: value" lines (the format of --webhook-header
// and of --webhook-header-file); blank lines and lines starting with # are
// skipped. Its errors never show a value, which may be a secret.
func ParseHeaders(text string) (http.Header, error) {
	h := http.Header{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// Errors name the line, never its text: it may hold a token.
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %d is not \"Name: value\" (its text is not shown: it may hold a secret)", i+1)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !headerName.MatchString(name) {
			return nil, fmt.Errorf("line %d: the header name is not valid (letters, digits and - only; the text is not shown: it may hold a secret)", i+1)
		}
		if strings.ContainsAny(value, "\r\x00") {
			return nil, fmt.Errorf("header %s: the value holds a control character", name)
		}
		switch http.CanonicalHeaderKey(name) {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection":
			return nil, fmt.Errorf("%s is set by the client, not by a header", http.CanonicalHeaderKey(name))
		}
		h.Add(name, value)
	}
	return h, nil
}

// Headers is a flag.Value for --webhook-header: each Set adds the
// "Name: value" lines of its argument (an environment variable may hold
// several, one a line).
type Headers struct{ h http.Header }

// Set adds the headers in s.
func (hs *Headers) Set(s string) error {
	h, err := ParseHeaders(s)
	if err != nil {
		return err
	}
	if hs.h == nil {
		hs.h = http.Header{}
	}
	for k, vs := range h {
		hs.h[k] = append(hs.h[k], vs...)
	}
	return nil
}

// String lists the header names only: their values may be secrets.
func (hs *Headers) String() string {
	if hs == nil {
		return ""
	}
	var names []string
	for k := range hs.h {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// Header returns the headers set so far (nil if none).
func (hs *Headers) Header() http.Header { return hs.h }

// NewClient returns the webhook's HTTP client: Timeout per POST, the
// headers h on every request (over the Content-Type a Sender sets), and
// the proxy at proxyURL, or with proxyURL "" the environment's
// (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), as Go's default transport does.
// Its errors name --webhook-proxy.
func NewClient(h http.Header, proxyURL string) (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if proxyURL != "" {
		u, err := url.Parse(proxyURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5") || u.Host == "" {
			return nil, fmt.Errorf("--webhook-proxy is not a proxy URL: want http://HOST:PORT, https://… or socks5://… (value not shown: it may hold a password)")
		}
		t.Proxy = http.ProxyURL(u)
	}
	var rt http.RoundTripper = t
	c := &http.Client{Timeout: Timeout}
	if len(h) > 0 {
		rt = withHeaders{next: t, h: h.Clone()}
		// The transport adds the headers to every request, redirects
		// included, where net/http would drop Authorization on the way to
		// another host: follow no redirect to another host, so a token
		// goes only where the operator sent it.
		c.CheckRedirect = sameHostOnly
	}
	c.Transport = rt
	return c, nil
}

// sameHostOnly refuses a redirect to a host other than the first
// request's.
func sameHostOnly(r *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if r.URL.Host != via[0].URL.Host {
		return fmt.Errorf("the webhook redirected to another host (%s); not followed, so its headers are not sent there", r.URL.Host)
	}
	return nil
}

// Secret reports that the flag's value may hold a secret: errors about it
// do not print it (internal/flagenv).
func (hs *Headers) Secret() bool { return true }

// withHeaders sets fixed headers on each request.
type withHeaders struct {
	next http.RoundTripper
	h    http.Header
}

func (w withHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, vs := range w.h {
		r.Header[k] = append([]string(nil), vs...)
	}
	return w.next.RoundTrip(r)
}
