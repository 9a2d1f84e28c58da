package controller

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestTroubleOncePerChange: a failure is said once, again only when its
// class changes, and once more on recovery; a recovery with no failure
// says nothing.
func TestTroubleOncePerChange(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	tr := newTrouble(zap.New(core))
	hint := func(class string) string { return "hint for " + class }
	down := fmt.Errorf("dial: %w", errors.New("connection refused"))
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "no"}
	tr.ok("sqs", "works again")
	for range 3 {
		tr.fail("sqs", "receiving failed", down, hint)
	}
	tr.fail("sqs", "receiving failed", denied, hint)
	tr.fail("sqs", "receiving failed", denied, hint)
	tr.ok("sqs", "works again")
	tr.ok("sqs", "works again")
	var got []string
	for _, e := range logs.All() {
		got = append(got, e.Message)
	}
	want := []string{
		"receiving failed: hint for unreachable (logged once until this changes or recovers)",
		"receiving failed: hint for denied (logged once until this changes or recovers)",
		"works again",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("logged %q, want %q", got, want)
	}
}

func TestClassOf(t *testing.T) {
	gr := schema.GroupResource{Resource: "leases"}
	for _, c := range []struct {
		err  error
		want string
	}{
		{&smithy.GenericAPIError{Code: "AccessDenied"}, classDenied},
		{&smithy.GenericAPIError{Code: "AWS.SimpleQueueService.NonExistentQueue"}, classNotFound},
		{&smithy.GenericAPIError{Code: "Throttling"}, "refused: Throttling"},
		{apierrors.NewForbidden(gr, "x", errors.New("no")), classDenied},
		{apierrors.NewNotFound(gr, "x"), classNotFound},
		{apierrors.NewServiceUnavailable("down"), classUnreachable},
		{errors.New("dial tcp: connection refused"), classUnreachable},
	} {
		if got := classOf(c.err); got != c.want {
			t.Errorf("classOf(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
