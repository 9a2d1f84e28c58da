package imds

import (
	"bytes"
	"fmt"
)

// stateTerminated is the target lifecycle state that yields an
// ASGTermination notice.
const stateTerminated = "Terminated"

// parseTargetLifecycleState turns meta-data/autoscaling/target-lifecycle-state
// (plain text such as InService or Terminated) into an ASGTermination notice
// on Terminated and no notice on any other state (InService, Standby,
// Warmed:Stopped, ...). Surrounding white space is ignored; an empty or
// non-word body is an error.
func parseTargetLifecycleState(body []byte) ([]Notice, error) {
	state := string(bytes.TrimSpace(body))
	if len(state) > 64 || !printable(state) {
		return nil, fmt.Errorf("target lifecycle state %q is not a state like InService or Terminated", truncate(state))
	}
	if state != stateTerminated {
		return nil, nil
	}
	return []Notice{{
		Kind:   ASGTermination,
		ID:     noticeID(ASGTermination, stateTerminated),
		Action: stateTerminated,
	}}, nil
}
