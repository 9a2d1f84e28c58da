package testenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// userHZ is Linux's USER_HZ, the unit of /proc/<pid>/stat's CPU times.
const userHZ = 100

// CPUSeconds is process pid's user and system CPU time so far, in seconds.
func CPUSeconds(pid int) (float64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return 0, fmt.Errorf("reading /proc/%d/stat: no command name", pid)
	}
	// After the command name: state is the 1st field, utime and stime the 12th and 13th.
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("reading /proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("reading /proc/%d/stat: utime %q, stime %q", pid, f[11], f[12])
	}
	return (ut + st) / userHZ, nil
}
