package imds

import (
	"strings"
	"testing"
	"time"
)

func TestParseInstanceAction(t *testing.T) {
	at := time.Date(2020, 1, 7, 1, 3, 47, 0, time.UTC)
	tests := []struct {
		name    string
		body    string
		want    Notice
		wantErr string
	}{
		{"terminate", `{"action": "terminate", "time": "2020-01-07T01:03:47Z"}`,
			Notice{Kind: SpotInterruption, ID: "SpotInterruption/terminate/2020-01-07T01:03:47Z", Action: "terminate", Deadline: at}, ""},
		{"stop", `{"action":"stop","time":"2020-01-07T01:03:47Z"}`,
			Notice{Kind: SpotInterruption, ID: "SpotInterruption/stop/2020-01-07T01:03:47Z", Action: "stop", Deadline: at}, ""},
		{"hibernate with AEMM layout", "{\n\t\"action\": \"hibernate\",\n\t\"time\": \"2020-01-07T01:03:47Z\"\n}",
			Notice{Kind: SpotInterruption, ID: "SpotInterruption/hibernate/2020-01-07T01:03:47Z", Action: "hibernate", Deadline: at}, ""},
		{"offset normalised to UTC", `{"action":"terminate","time":"2020-01-07T02:03:47+01:00"}`,
			Notice{Kind: SpotInterruption, ID: "SpotInterruption/terminate/2020-01-07T01:03:47Z", Action: "terminate", Deadline: at}, ""},
		{"unknown action kept", `{"action":"reboot","time":"2020-01-07T01:03:47Z"}`,
			Notice{Kind: SpotInterruption, ID: "SpotInterruption/reboot/2020-01-07T01:03:47Z", Action: "reboot", Deadline: at}, ""},
		{"extra field ignored", `{"action":"stop","time":"2020-01-07T01:03:47Z","x":1}`,
			Notice{Kind: SpotInterruption, ID: "SpotInterruption/stop/2020-01-07T01:03:47Z", Action: "stop", Deadline: at}, ""},
		{"empty body", ``, Notice{}, "decoding spot instance-action"},
		{"html 404 page", `<html>404 - Not Found</html>`, Notice{}, "decoding spot instance-action"},
		{"null", `null`, Notice{}, `action ""`},
		{"missing action", `{"time":"2020-01-07T01:03:47Z"}`, Notice{}, `action ""`},
		{"action with space", `{"action":"shut down","time":"2020-01-07T01:03:47Z"}`, Notice{}, "want one of terminate, stop, hibernate"},
		{"missing time", `{"action":"terminate"}`, Notice{}, "not RFC 3339"},
		{"bad time", `{"action":"terminate","time":"7 Jan 2020"}`, Notice{}, "not RFC 3339"},
		{"array", `[{"action":"terminate","time":"2020-01-07T01:03:47Z"}]`, Notice{}, "decoding"},
		{"trailing data", `{"action":"terminate","time":"2020-01-07T01:03:47Z"} {}`, Notice{}, "decoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseInstanceAction([]byte(tt.body))
			checkParse(t, got, err, []Notice{tt.want}, tt.wantErr)
		})
	}
}

func TestParseRebalance(t *testing.T) {
	at := time.Date(2020, 10, 27, 8, 22, 0, 0, time.UTC)
	tests := []struct {
		name    string
		body    string
		want    Notice
		wantErr string
	}{
		{"ok", `{"noticeTime": "2020-10-27T08:22:00Z"}`,
			Notice{Kind: RebalanceRecommendation, ID: "RebalanceRecommendation/2020-10-27T08:22:00Z", NoticeTime: at}, ""},
		{"fractional seconds keep their own ID", `{"noticeTime": "2020-10-27T08:22:00.5Z"}`,
			Notice{Kind: RebalanceRecommendation, ID: "RebalanceRecommendation/2020-10-27T08:22:00.5Z", NoticeTime: at.Add(500 * time.Millisecond)}, ""},
		{"missing", `{}`, Notice{}, "not RFC 3339"},
		{"number", `{"noticeTime": 5}`, Notice{}, "decoding rebalance"},
		{"garbage", `noticeTime`, Notice{}, "decoding rebalance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRebalance([]byte(tt.body))
			checkParse(t, got, err, []Notice{tt.want}, tt.wantErr)
		})
	}
}

func TestParseMaintenance(t *testing.T) {
	nb := time.Date(2019, 1, 21, 9, 0, 43, 0, time.UTC)
	event := func(id, code, state, notBefore string) string {
		return `{"NotBefore":"` + notBefore + `","NotAfter":"21 Jan 2019 09:17:23 GMT","Code":"` + code +
			`","Description":"scheduled ` + code + `","EventId":"` + id + `","State":"` + state + `"}`
	}
	active := Notice{Kind: ScheduledMaintenance, ID: "ScheduledMaintenance/instance-event-1/2019-01-21T09:00:43Z",
		Action: "system-reboot", Deadline: nb, Description: "scheduled system-reboot"}
	canceled := active
	canceled.Canceled = true
	stop := Notice{Kind: ScheduledMaintenance, ID: "ScheduledMaintenance/instance-event-2/2019-01-02T09:00:43Z",
		Action: "instance-stop", Deadline: time.Date(2019, 1, 2, 9, 0, 43, 0, time.UTC), Description: "scheduled instance-stop"}
	tests := []struct {
		name    string
		body    string
		want    []Notice
		wantErr string
	}{
		{"empty list", `[]`, nil, ""},
		{"null", `null`, nil, ""},
		{"active", `[` + event("instance-event-1", "system-reboot", "active", "21 Jan 2019 09:00:43 GMT") + `]`, []Notice{active}, ""},
		{"no state counts as active", `[` + event("instance-event-1", "system-reboot", "", "21 Jan 2019 09:00:43 GMT") + `]`, []Notice{active}, ""},
		{"unknown state counts as active", `[` + event("instance-event-1", "system-reboot", "pending", "21 Jan 2019 09:00:43 GMT") + `]`, []Notice{active}, ""},
		{"canceled", `[` + event("instance-event-1", "system-reboot", "canceled", "21 Jan 2019 09:00:43 GMT") + `]`, []Notice{canceled}, ""},
		{"completed", `[` + event("instance-event-1", "system-reboot", "completed", "21 Jan 2019 09:00:43 GMT") + `]`, []Notice{canceled}, ""},
		{"UTC zone and two events", `[` + event("instance-event-1", "system-reboot", "active", "21 Jan 2019 09:00:43 UTC") + `,` +
			event("instance-event-2", "instance-stop", "active", "2 Jan 2019 09:00:43 GMT") + `]`, []Notice{active, stop}, ""},
		{"zero-padded day", `[` + event("instance-event-2", "instance-stop", "active", "02 Jan 2019 09:00:43 GMT") + `]`, []Notice{stop}, ""},
		{"duplicate keeps first", `[` + event("instance-event-1", "system-reboot", "active", "21 Jan 2019 09:00:43 GMT") + `,` +
			event("instance-event-1", "system-reboot", "canceled", "21 Jan 2019 09:00:43 GMT") + `]`, []Notice{active}, ""},
		{"RFC 3339 date", `[` + event("instance-event-1", "system-reboot", "active", "2019-01-21T09:00:43Z") + `]`, nil, "not like 21 Jan 2019 09:00:43 GMT"},
		{"other zone", `[` + event("instance-event-1", "system-reboot", "active", "21 Jan 2019 09:00:43 PST") + `]`, nil, "not like"},
		{"missing EventId", `[` + event("", "system-reboot", "active", "21 Jan 2019 09:00:43 GMT") + `]`, nil, "EventId"},
		{"missing Code", `[` + event("instance-event-1", "", "active", "21 Jan 2019 09:00:43 GMT") + `]`, nil, "Code"},
		{"object not list", event("instance-event-1", "system-reboot", "active", "21 Jan 2019 09:00:43 GMT"), nil, "decoding scheduled maintenance"},
		{"truncated", `[{"NotBefore":`, nil, "decoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMaintenance([]byte(tt.body))
			checkParse(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestParseTargetLifecycleState(t *testing.T) {
	term := Notice{Kind: ASGTermination, ID: "ASGTermination/Terminated", Action: "Terminated"}
	tests := []struct {
		name    string
		body    string
		want    []Notice
		wantErr string
	}{
		{"in service", "InService", nil, ""},
		{"terminated", "Terminated", []Notice{term}, ""},
		{"terminated with newline", "Terminated\n", []Notice{term}, ""},
		{"warm pool state", "Warmed:Stopped", nil, ""},
		{"lower case is not terminated", "terminated", nil, ""},
		{"empty", "", nil, "not a state"},
		{"two words", "In Service", nil, "not a state"},
		{"html", "<html>\n</html>", nil, "not a state"},
		{"too long", strings.Repeat("x", 65), nil, "not a state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTargetLifecycleState([]byte(tt.body))
			checkParse(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestNoticeID(t *testing.T) {
	tests := []struct {
		name  string
		parts []string
		want  string
	}{
		{"readable", []string{"instance-event-1", "2019-01-21T09:00:43Z"}, "ScheduledMaintenance/instance-event-1/2019-01-21T09:00:43Z"},
		{"slash hashed", []string{"a/b", "c"}, "ScheduledMaintenance/sha256:"},
		{"space hashed", []string{"a b"}, "ScheduledMaintenance/sha256:"},
		{"long hashed", []string{strings.Repeat("e", 300)}, "ScheduledMaintenance/sha256:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := noticeID(ScheduledMaintenance, tt.parts...)
			if !strings.HasPrefix(got, tt.want) || len(got) > maxIDLen || !printable(got) {
				t.Errorf("noticeID(%q) = %q, want prefix %q, printable, at most %d bytes", tt.parts, got, tt.want, maxIDLen)
			}
		})
	}
	if a, b := noticeID(ScheduledMaintenance, "a/b", "c"), noticeID(ScheduledMaintenance, "a", "b/c"); a == b {
		t.Errorf("ambiguous parts share ID %q", a)
	}
}

// checkParse compares a parser's result with want, or its error with wantErr.
func checkParse(t *testing.T, got []Notice, err error, want []Notice, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error = %v, want one containing %q", err, wantErr)
		}
		if got != nil {
			t.Errorf("notices = %+v with an error, want nil", got)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d notices %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("notice %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
