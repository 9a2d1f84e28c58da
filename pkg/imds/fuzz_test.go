package imds

import (
	"testing"
)

// Fuzz targets: a parser never panics, and what it accepts is well formed
// and deterministic. Seeds cover valid bodies, AEMM's layout and known edge
// cases; CI runs only the seeds (and testdata/fuzz), locally run each with
//
//	go test -run '^$' -fuzz '^FuzzParseX$' -fuzztime 60s ./pkg/imds/

func FuzzParseInstanceAction(f *testing.F) {
	for _, s := range []string{
		`{"action": "terminate", "time": "2020-01-07T01:03:47Z"}`,
		"{\n\t\"action\": \"hibernate\",\n\t\"time\": \"2026-11-25T18:34:23Z\"\n}",
		`{"action":"stop","time":"2020-01-07T02:03:47+01:00"}`,
		`{"action":"stop","time":"2020-01-07T02:03:47.123456789Z"}`,
		`{"action":"a/b","time":"2020-01-07T01:03:47Z"}`,
		`null`, `{}`, `[]`, ``, `<html>404 - Not Found</html>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFuzz(t, body, SpotInterruption, parseInstanceAction)
	})
}

func FuzzParseRebalance(f *testing.F) {
	for _, s := range []string{
		`{"noticeTime": "2020-10-27T08:22:00Z"}`,
		"{\n\t\"noticeTime\": \"2026-11-25T18:32:21Z\"\n}",
		`{"noticeTime": "2020-10-27T08:22:00.5-07:00"}`,
		`{"noticeTime": 1}`, `{}`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFuzz(t, body, RebalanceRecommendation, parseRebalance)
	})
}

func FuzzParseMaintenance(f *testing.F) {
	for _, s := range []string{
		`[]`,
		`[{"NotBefore":"21 Jan 2019 09:00:43 GMT","NotAfter":"21 Jan 2019 09:17:23 GMT","Code":"system-reboot",` +
			`"Description":"scheduled reboot","EventId":"instance-event-0d59937288b749b32","State":"active"}]`,
		"[\n\t{\n\t\t\"Code\": \"instance-stop\",\n\t\t\"Description\": \"The instance is scheduled for instance-stop\",\n" +
			"\t\t\"State\": \"active\",\n\t\t\"EventId\": \"instance-event-1234567890abcdef0\",\n" +
			"\t\t\"NotBefore\": \"25 Nov 2026 18:32:33 GMT\",\n\t\t\"NotAfter\": \"2 Dec 2026 18:32:33 GMT\",\n" +
			"\t\t\"NotBeforeDeadline\": \"4 Dec 2026 18:32:33 GMT\"\n\t}\n]",
		`[{"NotBefore":"1 Feb 2019 00:00:00 UTC","Code":"instance-retirement","EventId":"e-1","State":"canceled"},` +
			`{"NotBefore":"1 Feb 2019 00:00:00 UTC","Code":"instance-retirement","EventId":"e-1","State":"completed"}]`,
		`[{"NotBefore":"31 Feb 2019 00:00:00 GMT","Code":"x","EventId":"e"}]`,
		`[null]`, `null`, `{}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFuzz(t, body, ScheduledMaintenance, parseMaintenance)
	})
}

func FuzzParseTargetLifecycleState(f *testing.F) {
	for _, s := range []string{"InService", "Terminated", "Terminated\n", "Warmed:Hibernated", "", " ", "\x00", "In Service"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFuzz(t, body, ASGTermination, parseTargetLifecycleState)
	})
}

// checkFuzz parses body twice and checks the invariants every parser keeps:
// on error no notices; on success the right kind, unique printable IDs of at
// most maxIDLen bytes, UTC times, and the same result both times.
func checkFuzz(t *testing.T, body []byte, kind Kind, parse func([]byte) ([]Notice, error)) {
	got, err := parse(body)
	if err != nil {
		if got != nil {
			t.Fatalf("notices %+v returned with error %v", got, err)
		}
		return
	}
	again, err := parse(body)
	if err != nil || len(again) != len(got) {
		t.Fatalf("second parse differs: %+v, %v; first %+v", again, err, got)
	}
	for i, n := range got {
		if n != again[i] {
			t.Fatalf("second parse differs at %d: %+v vs %+v", i, again[i], n)
		}
		if n.Kind != kind {
			t.Fatalf("notice %d has kind %q, want %q", i, n.Kind, kind)
		}
		if len(n.ID) > maxIDLen || !printable(n.ID) {
			t.Fatalf("notice %d has bad ID %q", i, n.ID)
		}
		if indexID(got, n.ID) != i {
			t.Fatalf("ID %q repeats", n.ID)
		}
		if n.Deadline.Location().String() != "UTC" || n.NoticeTime.Location().String() != "UTC" {
			t.Fatalf("notice %d has non-UTC times: %+v", i, n)
		}
		if !n.Detected.IsZero() {
			t.Fatalf("parser set Detected: %+v", n)
		}
	}
}
