package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// BuildAgent builds cmd/spot-handler into dir as the image does (static,
// trimmed, stripped: see `make image-binary`) and returns its path.
func BuildAgent(dir string) (string, error) {
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	bin := filepath.Join(dir, "spot-handler")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/spot-handler")
	cmd.Dir = strings.TrimSpace(string(root))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building spot-handler: %w\n%s", err, out)
	}
	return bin, nil
}

// AgentProc is a `spot-handler agent` running as a child process.
type AgentProc struct {
	*Child
}

// StartAgent runs bin's agent for node against imdsURL with the plane's
// kubeconfig and extra flags, on free loopback ports, and waits up to 30s
// for /readyz (polled every 5ms). Its own pod is kube-system/spot-handler-NODE.
func StartAgent(bin, kubeconfig, node, imdsURL string, extra ...string) (*AgentProc, error) {
	return StartAgentAs(bin, kubeconfig, node, imdsURL, "kube-system", "spot-handler-"+node, extra...)
}

// StartAgentAs is StartAgent with the agent's own pod (POD_NAMESPACE,
// POD_NAME) named podNS/podName: the pod its token is bound to, if it is.
func StartAgentAs(bin, kubeconfig, node, imdsURL, podNS, podName string, extra ...string) (*AgentProc, error) {
	args := append([]string{"--node-name", node, "--kubeconfig", kubeconfig, "--imds-endpoint", imdsURL}, extra...)
	c, err := StartChild("the agent", bin, "agent", args, []string{"POD_NAMESPACE=" + podNS, "POD_NAME=" + podName})
	if err != nil {
		return nil, err
	}
	if err := c.WaitReady("agent for "+node, 30*time.Second, 5*time.Millisecond); err != nil {
		return nil, err
	}
	return &AgentProc{c}, nil
}
