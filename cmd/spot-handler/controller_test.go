package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRegionOf(t *testing.T) {
	for in, want := range map[string]string{
		"https://sqs.eu-west-1.amazonaws.com/123456789012/q": "eu-west-1",
		"https://sqs.cn-north-1.amazonaws.com.cn/1/q":        "cn-north-1",
		"http://127.0.0.1:4566/123456789012/q":               "",
		"::":                                                 "",
	} {
		if got := regionOf(in); got != want {
			t.Errorf("regionOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestControllerUsage: bad flags and configuration exit 2 with a line that
// says what to set.
func TestControllerUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"controller", "--cluster-name=c"}, "--queue-url"},
		{[]string{"controller", "--queue-url=https://sqs.us-east-1.amazonaws.com/1/q"}, "--cluster-name"},
		{[]string{"controller", "--cluster-name=c", "--queue-url=https://sqs.us-east-1.amazonaws.com/1/q", "--rebalance=evict"}, "--rebalance"},
		{[]string{"controller", "--cluster-name=c", "--queue-url=https://sqs.us-east-1.amazonaws.com/1/q", "--workers=0"}, "--workers"},
		{[]string{"controller", "--cluster-name=c", "--queue-url=https://sqs.us-east-1.amazonaws.com/1/q", "--leader-elect-namespace="}, "--leader-elect-namespace"},
		{[]string{"controller", "--cluster-name=c", "--queue-url=https://sqs.us-east-1.amazonaws.com/1/q", "--webhook-url-file=/nonexistent/url"}, "--webhook-url-file"},
		{[]string{"controller", "--cluster-name=c", "--queue-url=https://sqs.us-east-1.amazonaws.com/1/q", "--webhook-template=/nonexistent/tmpl"}, "--webhook-template"},
	} {
		var out, errb bytes.Buffer
		code := Main(context.Background(), tc.args, stdio{out: &out, err: &errb, getenv: func(string) string { return "" }})
		if code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a line naming %s", tc.args, code, errb.String(), tc.want)
		}
	}
}
