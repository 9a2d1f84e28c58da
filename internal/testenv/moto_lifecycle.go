package testenv

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// motoLifecyclePy launches moto_server with CompleteLifecycleAction and
// RecordLifecycleActionHeartbeat added to its Auto Scaling API (moto 5.2.1
// answers both with 500 NotImplemented), recording each call and its token,
// and a test API to begin lifecycle actions and read the calls back. It adds
// them only where moto has no handler of its own. See the file's docstring.
//
//go:embed moto_lifecycle.py
var motoLifecyclePy []byte

// motoLauncher writes the launcher into dir and returns the interpreter
// arguments that run moto_server through it; moto_server's own flags follow.
func motoLauncher(dir string) ([]string, error) {
	path := filepath.Join(dir, "moto_lifecycle.py")
	if err := os.WriteFile(path, motoLifecyclePy, 0o644); err != nil {
		return nil, fmt.Errorf("writing moto's lifecycle launcher: %w", err)
	}
	return []string{path}, nil
}

// LifecycleCall is one CompleteLifecycleAction or RecordLifecycleActionHeartbeat
// call moto received, as the harness recorded it.
type LifecycleCall struct {
	// Action is CompleteLifecycleAction or RecordLifecycleActionHeartbeat.
	Action string `json:"action"`
	// Time is when moto received it.
	Time time.Time `json:"time"`
	// Group, Hook, Token and Instance name the action (Token and Instance as
	// resolved when the call matched a pending action).
	Group    string `json:"group"`
	Hook     string `json:"hook"`
	Token    string `json:"token"`
	Instance string `json:"instance"`
	// Result is CONTINUE or ABANDON for CompleteLifecycleAction.
	Result string `json:"result"`
	// Error is the error moto answered ("ValidationError: ..."), or "".
	Error string `json:"error"`
}

// LifecycleAction is a lifecycle action begun with BeginLifecycleAction.
type LifecycleAction struct {
	Token      string `json:"token"`
	Group      string `json:"group"`
	Hook       string `json:"hook"`
	Instance   string `json:"instance"`
	Transition string `json:"transition"`
	// State is pending, completed or timed_out.
	State string `json:"state"`
	// Result is the completion's result, or the hook's default result once
	// timed out.
	Result string `json:"result"`
	// Heartbeats counts accepted RecordLifecycleActionHeartbeat calls.
	Heartbeats int `json:"heartbeats"`
	// Timeout is the hook's HeartbeatTimeout, in seconds.
	Timeout int `json:"timeout"`
}

// BeginLifecycleAction puts instance into a pending lifecycle action of the
// hook (which PutLifecycleHook must have created on the group) and returns
// its token, as Auto Scaling would on a scale-in (transition
// autoscaling:EC2_INSTANCE_TERMINATING) or scale-out (..._LAUNCHING). moto
// fires no hooks: the test sends the lifecycle event itself. The action
// times out after the hook's HeartbeatTimeout without heartbeats.
func (m *Moto) BeginLifecycleAction(group, hook, instance, transition string) (string, error) {
	body, _ := json.Marshal(map[string]string{"group": group, "hook": hook, "instance": instance, "transition": transition})
	var out struct {
		Token string `json:"token"`
		Error string `json:"error"`
	}
	if err := m.lifecycleAPI(http.MethodPost, "actions", body, &out); err != nil {
		return "", err
	}
	return out.Token, nil
}

// LifecycleCalls returns every lifecycle call moto received since the last
// reset, in order.
func (m *Moto) LifecycleCalls() ([]LifecycleCall, error) {
	var out []LifecycleCall
	return out, m.lifecycleAPI(http.MethodGet, "calls", nil, &out)
}

// LifecycleActions returns every action begun since the last reset.
func (m *Moto) LifecycleActions() ([]LifecycleAction, error) {
	var out []LifecycleAction
	return out, m.lifecycleAPI(http.MethodGet, "actions", nil, &out)
}

func (m *Moto) lifecycleAPI(method, what string, body []byte, out any) error {
	req, err := http.NewRequest(method, m.URL+"/spot-handler-lifecycle/"+what, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("moto's lifecycle test API: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading moto's lifecycle test API: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("moto's lifecycle test API: %s %s: %s: %s", method, what, resp.Status, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("moto's lifecycle test API: %s %s: %w", method, what, err)
	}
	return nil
}
