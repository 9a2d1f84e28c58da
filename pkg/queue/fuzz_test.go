package queue

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics, its errors wrap ErrMalformed with no
// notices, and what it accepts is well formed and deterministic. Seeds are
// the fixtures and edge cases; CI runs only the seeds, locally run
//
//	go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 60s ./pkg/queue/
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	const now = "2026-12-01T12:00:00Z"
	for _, s := range []string{``, `null`, `{}`, `[]`, `"x"`, `{"source":1}`,
		string(event("aws.ec2", "EC2 Spot Instance Interruption Warning", now, `{"instance-id":"i-12345678","instance-action":"stop"}`)),
		string(event("aws.ec2", "EC2 Instance State-change Notification", now, `{"instance-id":"i-12345678","state":"terminated"}`)),
		string(event("aws.health", "AWS Health Event", now, `{"eventArn":"a/b","service":"EC2","eventTypeCode":"X","eventTypeCategory":"scheduledChange",`+
			`"startTime":"Wed, 02 Dec 2026 12:00:00 GMT","affectedEntities":[{"entityValue":"i-12345678"},{"entityValue":"i-87654321"}]}`)),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Parse(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || m.Notices != nil {
				t.Fatalf("error %v with message %+v", err, m)
			}
			return
		}
		again, err := Parse(body)
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("second parse differs: %+v, %v; first %+v", again, err, m)
		}
		if !knownType(m.Type) || m.Type == TypeMalformed {
			t.Fatalf("type %q", m.Type)
		}
		ids := map[string]bool{}
		for i, n := range m.Notices {
			if checkInstance("", n.InstanceID) != nil {
				t.Fatalf("notice %d: instance %q", i, n.InstanceID)
			}
			if !strings.HasPrefix(n.ID, IDPrefix+string(n.Kind)+"/") || len(n.ID) > maxIDLen || ids[n.ID] {
				t.Fatalf("notice %d: bad or repeated ID %q", i, n.ID)
			}
			ids[n.ID] = true
			for _, c := range n.ID {
				if c <= ' ' || c > '~' {
					t.Fatalf("notice %d: unprintable ID %q", i, n.ID)
				}
			}
			if n.Deadline.Location().String() != "UTC" || n.EventTime.Location().String() != "UTC" || n.EventTime.IsZero() {
				t.Fatalf("notice %d: times %+v", i, n)
			}
		}
	})
}

func knownType(t string) bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}
