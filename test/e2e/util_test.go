package e2e

import (
	"errors"
	"os"
	"os/exec"
)

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }

// run runs a command and returns its combined output and exit code.
func run(bin string, args ...string) (string, int) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		return err.Error(), -1
	}
	return string(out), 0
}
