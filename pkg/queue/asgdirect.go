package queue

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// An Auto Scaling lifecycle hook whose notification target is the SQS
// queue itself (PutLifecycleHook's NotificationTargetARN) sends its
// notifications without the EventBridge envelope: a flat JSON object with
// the lifecycle fields at the top, plus Service ("AWS Auto Scaling"), Time,
// AccountId and RequestId. When the target is set, Auto Scaling first sends a
// test message whose Event is "autoscaling:TEST_NOTIFICATION" (and which may
// carry LifecycleTransition of the same value). Shapes from the Amazon EC2
// Auto Scaling User Guide, "Configure a notification target for lifecycle
// notifications" (Amazon SQS), and the API Reference of PutLifecycleHook
// (NotificationTargetARN).

// Values of a direct notification's fields.
const (
	// ASGTestNotification is the Event (and LifecycleTransition) of the test
	// message Auto Scaling sends to a new notification target.
	ASGTestNotification = "autoscaling:TEST_NOTIFICATION"
	// asgService is the Service field of every direct notification.
	asgService = "AWS Auto Scaling"
	// asgSource is the Source a direct notification's Message reports, as
	// the EventBridge events of the same service.
	asgSource = "aws.autoscaling"
)

// directNotification is the body of a direct ASG → SQS notification.
type directNotification struct {
	lifecycleDetail
	Service   string `json:"Service"`
	Event     string `json:"Event"`
	Time      string `json:"Time"`
	RequestID string `json:"RequestId"`
}

// parseDirect reads body as a direct Auto Scaling notification when e, its
// decoding as an EventBridge event, has no source, detail-type or detail
// and the body says it is one (Service "AWS Auto Scaling", or an Event or
// LifecycleTransition of Auto Scaling's). It
// reports false for any other body, which Parse then judges.
//
// A test notification is a Message of TypeLifecycle with no notices (the
// caller counts and deletes it); a lifecycle action gives the same notice,
// with the same ID, as its EventBridge event would.
func parseDirect(body []byte, e *envelope) (Message, bool, error) {
	if e.Source != "" || e.DetailType != "" || len(e.Detail) != 0 {
		return Message{}, false, nil
	}
	var d directNotification
	if json.Unmarshal(body, &d) != nil || d.Service != asgService && !strings.HasPrefix(d.Event, "autoscaling:") &&
		!strings.HasPrefix(d.LifecycleTransition, "autoscaling:") {
		return Message{}, false, nil
	}
	m := Message{Type: TypeLifecycle, Source: asgSource, DetailType: clip(d.LifecycleTransition), EventID: clip(d.RequestID)}
	if d.Event == ASGTestNotification || d.LifecycleTransition == ASGTestNotification {
		m.DetailType = ASGTestNotification
		if at, err := time.Parse(time.RFC3339, d.Time); err == nil {
			m.Time = at.UTC()
		}
		return m, true, nil
	}
	fail := func(format string, args ...any) (Message, bool, error) {
		return Message{Type: TypeLifecycle, Source: m.Source, DetailType: m.DetailType},
			true, fmt.Errorf("%w: Auto Scaling notification: "+format, append([]any{ErrMalformed}, args...)...)
	}
	if d.Event != "" {
		return fail("Event %q is not %s, the only one a lifecycle hook sends", clip(d.Event), ASGTestNotification)
	}
	at, err := time.Parse(time.RFC3339, d.Time)
	if err != nil {
		return fail("Time %q is not RFC 3339", clip(d.Time))
	}
	notices, err := d.notices()
	if err != nil {
		return fail("%v", err)
	}
	m.Time = at.UTC()
	for i := range notices {
		notices[i].EventTime = m.Time
	}
	m.Notices = notices
	return m, true, nil
}
