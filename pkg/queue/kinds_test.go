package queue

import (
	"fmt"
	"testing"
)

// TestEventKinds checks that every listed kind is one Parse chooses a parser
// for (its Type, not TypeUnknown), and that the list is sorted and complete.
func TestEventKinds(t *testing.T) {
	kinds := EventKinds()
	if len(kinds) != len(parsers) {
		t.Fatalf("%d kinds for %d parsers", len(kinds), len(parsers))
	}
	for i, k := range kinds {
		if i > 0 && (kinds[i-1].Source > k.Source || kinds[i-1].Source == k.Source && kinds[i-1].DetailType >= k.DetailType) {
			t.Errorf("not sorted at %d: %+v after %+v", i, k, kinds[i-1])
		}
		body := fmt.Sprintf(`{"source":%q,"detail-type":%q,"time":"2026-12-01T10:00:00Z","detail":{}}`, k.Source, k.DetailType)
		m, _ := Parse([]byte(body))
		if m.Type != k.Type || k.Type == TypeUnknown {
			t.Errorf("%s / %s: Parse gives type %q, EventKinds says %q", k.Source, k.DetailType, m.Type, k.Type)
		}
	}
}
