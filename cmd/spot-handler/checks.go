package main

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/spot-handler/spot-handler/internal/webhook"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// The start-up checks of values that parse but cannot work. Each error
// names the flag, the value and what to use instead; the callers make it a
// usage error (exit 2) before any client is built or server started.

// spotNotice is how long before a Spot instance's termination AWS warns.
const spotNotice = 2 * time.Minute

// maxRecheck is SQS's longest visibility timeout, the bound on
// --unknown-recheck.
const maxRecheck = 12 * time.Hour

// regionPattern is what an AWS region name looks like (us-east-1,
// us-gov-west-1, cn-north-1, eusc-de-east-1 of the European Sovereign
// Cloud, a FIPS pseudo-region like us-east-1-fips).
var regionPattern = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}(-fips)?$`)

// check tests the flags both modes share; dryRun is the mode's --dry-run.
func (f *modeFlags) check(dryRun bool) error {
	switch {
	case f.margin < 0:
		return fmt.Errorf("--drain-margin=%v: use 0s or more, under %v (default 15s)", f.margin, spotNotice)
	case f.margin >= spotNotice && f.marginWarns:
		f.warn("--drain-margin=%v leaves a Spot interruption no time to drain (its notice comes %v before the termination); lifecycle-hook and Health drains keep theirs: use under %v (default 15s)", f.margin, spotNotice, spotNotice)
	case f.margin >= spotNotice:
		return fmt.Errorf("--drain-margin=%v: use 0s up to under %v (default 15s): a Spot notice comes %v before the termination, so a margin that long leaves no time to drain", f.margin, spotNotice, spotNotice)
	}
	if err := f.checkPolicy(); err != nil {
		return err
	}
	if f.qps == 0 {
		return fmt.Errorf("--kube-api-qps=0: use a positive rate (queries per second), or a negative one for no client-side limit")
	}
	if f.burst < 1 {
		return fmt.Errorf("--kube-api-burst=%d: use 1 or more (requests allowed at once above --kube-api-qps)", f.burst)
	}
	if err := checkAddr("--metrics-addr", f.metricsAddr); err != nil {
		return err
	}
	if err := checkAddr("--probe-addr", f.probeAddr); err != nil {
		return err
	}
	if samePort(f.metricsAddr, f.probeAddr) {
		return fmt.Errorf("--probe-addr=%q and --metrics-addr=%q are the same port: give each its own", f.probeAddr, f.metricsAddr)
	}
	if f.dryRunWebhook && !dryRun {
		f.warn("--dry-run-webhook does nothing without --dry-run (a real run always posts): drop it, or add --dry-run")
	}
	return nil
}

// checkPolicy names the drain policy's flags in their errors (pkg/drain
// would refuse the same values later, without the flag's name).
func (f *modeFlags) checkPolicy() error {
	for _, c := range []struct {
		flag, v string
		ok      []string
	}{
		{"--pdb-fallback", f.pdbFallback, []string{string(drain.FallbackDelete), string(drain.FallbackWait)}},
		{"--drain-order", f.drainOrder, []string{string(drain.OrderPriority), string(drain.OrderNone)}},
		{"--taint-effect", f.taintEffect, []string{string(corev1.TaintEffectNoSchedule), string(corev1.TaintEffectPreferNoSchedule), string(corev1.TaintEffectNoExecute)}},
	} {
		if !slices.Contains(c.ok, c.v) {
			return fmt.Errorf("%s=%q: want %s or %s", c.flag, c.v, strings.Join(c.ok[:len(c.ok)-1], ", "), c.ok[len(c.ok)-1])
		}
	}
	if f.excludeLabel != "" {
		if errs := validation.IsQualifiedName(f.excludeLabel); len(errs) > 0 {
			return fmt.Errorf("--exclude-lb-label=%q: not a label key (%s); empty turns it off", f.excludeLabel, errs[0])
		}
	}
	return nil
}

// finish runs the shared checks, then the mode's, then builds the
// webhook's client from the flags, so a bad header or proxy fails here.
func (f *modeFlags) finish(dryRun bool, webhookURL, template string, mode ...func() error) (*http.Client, error) {
	if err := f.check(dryRun); err != nil {
		return nil, err
	}
	for _, check := range mode {
		if err := check(); err != nil {
			return nil, err
		}
	}
	if err := f.checkWebhook(webhookURL, template); err != nil {
		return nil, err
	}
	return f.webhookClient()
}

// checkWebhook builds the webhook's sender once, so a bad URL, template,
// header or proxy fails at start, not at the first notice.
func (f *modeFlags) checkWebhook(rawURL, template string) error {
	if rawURL == "" && !f.webhookOff && (len(f.webhookHeaders.Header()) > 0 || f.webhookHeaderFile != "" || f.webhookProxy != "") {
		return fmt.Errorf("--webhook-header, --webhook-header-file and --webhook-proxy need a webhook: set --webhook-url or --webhook-url-file, or drop them")
	}
	_, err := webhook.New(webhook.Config{URL: rawURL, Template: template})
	return err
}

// checkAddr tests a listen address: host:port, the host optional, the
// port a number up to 65535 (0: any free port).
func checkAddr(flag, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		var n uint64
		if n, err = strconv.ParseUint(port, 10, 16); err == nil && n <= 65535 {
			return nil
		}
	}
	return fmt.Errorf("%s=%q: want host:port or :port with a port up to 65535, e.g. :9102 or 127.0.0.1:9102", flag, addr)
}

// samePort says whether two valid listen addresses would clash: the same
// non-zero port, on the same host or on all interfaces.
func samePort(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	if pa != pb || pa == "0" {
		return false
	}
	any := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || any(ha) || any(hb)
}

// checkURL tests that v is an absolute http(s) URL with a host; want is
// what to use instead, for the message.
func checkURL(flag, v, want string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s=%q: want %s", flag, v, want)
	}
	return nil
}

// checkOptionalURL is checkURL for a flag whose empty value means a
// default.
func checkOptionalURL(flag, v, want string) error {
	if v == "" {
		return nil
	}
	return checkURL(flag, v, want)
}

// queueName is what an SQS queue name looks like (a .fifo suffix allowed).
var queueName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}(\.fifo)?$`)

// checkQueueURL tests --queue-url: an http(s) URL whose path ends in
// /ACCOUNT/NAME, as SQS (and moto, for tests) gives it; LocalStack's
// path-style URLs put more before them (/queue/REGION/ACCOUNT/NAME).
func checkQueueURL(v string) error {
	const want = "the SQS queue's URL, https://sqs.REGION.amazonaws.com/ACCOUNT/NAME (the QueueURL output of 'spot-handler controller setup')"
	if err := checkURL("--queue-url", v, want); err != nil {
		return err
	}
	u, _ := url.Parse(v)
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 2 || parts[len(parts)-2] == "" || !queueName.MatchString(parts[len(parts)-1]) {
		return fmt.Errorf("--queue-url=%q: want %s", v, want)
	}
	return nil
}

// checkRegion tests a region name ("" is left to the SDK's chain).
func checkRegion(v string) error {
	if v != "" && !regionPattern.MatchString(v) {
		return fmt.Errorf("--region=%q: want an AWS region name like us-east-1 or eu-west-1", v)
	}
	return nil
}

// checkZones tests that every zone is one of region's (us-east-1a,
// us-east-1-bos-1a), not a zone ID or another region's.
func checkZones(zones []string, region string) error {
	for _, z := range zones {
		rest, ok := strings.CutPrefix(z, region)
		if !ok || !regexp.MustCompile(`^(-[a-z0-9-]+)?[a-z]$`).MatchString(rest) {
			return fmt.Errorf("--zones: %q is not an availability zone of --region %s: want names like %sa,%sb", z, region, region, region)
		}
	}
	return nil
}
