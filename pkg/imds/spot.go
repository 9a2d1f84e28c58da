package imds

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Spot actions IMDS documents for meta-data/spot/instance-action.
var spotActions = []string{"terminate", "stop", "hibernate"}

// instanceAction is the body of meta-data/spot/instance-action, e.g.
// {"action": "terminate", "time": "2017-09-18T08:22:00Z"}.
type instanceAction struct {
	Action string `json:"action"`
	Time   string `json:"time"`
}

// parseInstanceAction turns a spot instance-action body into one
// SpotInterruption notice. An action other than terminate, stop or hibernate
// is kept as given if it is a plain word: a notice with a time means the
// instance is going away, and dropping it would be worse than passing on an
// action the agent does not know.
func parseInstanceAction(body []byte) ([]Notice, error) {
	var ia instanceAction
	if err := decodeJSON(body, &ia); err != nil {
		return nil, fmt.Errorf("decoding spot instance-action: %w", err)
	}
	if !token(ia.Action) {
		return nil, fmt.Errorf("spot instance-action has action %q; want one of %s",
			ia.Action, strings.Join(spotActions, ", "))
	}
	t, err := parseRFC3339(ia.Time)
	if err != nil {
		return nil, fmt.Errorf("reading spot instance-action time: %w", err)
	}
	return []Notice{{
		Kind:     SpotInterruption,
		ID:       noticeID(SpotInterruption, ia.Action, idTime(t)),
		Action:   ia.Action,
		Deadline: t,
	}}, nil
}

// rebalance is the body of meta-data/events/recommendations/rebalance, e.g.
// {"noticeTime": "2020-10-27T08:22:00Z"}.
type rebalance struct {
	NoticeTime string `json:"noticeTime"`
}

// parseRebalance turns a rebalance recommendation body into one
// RebalanceRecommendation notice. Its ID includes noticeTime, which real IMDS
// keeps fixed (AEMM moves it with each request unless started with -r).
func parseRebalance(body []byte) ([]Notice, error) {
	var r rebalance
	if err := decodeJSON(body, &r); err != nil {
		return nil, fmt.Errorf("decoding rebalance recommendation: %w", err)
	}
	t, err := parseRFC3339(r.NoticeTime)
	if err != nil {
		return nil, fmt.Errorf("reading rebalance recommendation noticeTime: %w", err)
	}
	return []Notice{{
		Kind:       RebalanceRecommendation,
		ID:         noticeID(RebalanceRecommendation, idTime(t)),
		NoticeTime: t,
	}}, nil
}

// parseRFC3339 parses an IMDS timestamp such as 2020-01-07T01:03:47Z and
// returns it in UTC.
func parseRFC3339(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q is not RFC 3339 like 2020-01-07T01:03:47Z", truncate(s))
	}
	return t.UTC(), nil
}

// decodeJSON decodes exactly one JSON value from body into v.
func decodeJSON(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("body is not the expected JSON: %w", err)
	}
	return nil
}

// truncate shortens s for an error message.
func truncate(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
