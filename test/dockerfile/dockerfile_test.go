// Package dockerfile_test checks the Dockerfile without a Docker engine: its
// final image (base, user, entrypoint), that its build command is exactly
// what `make image-binary` runs, and that the command builds a static binary
// carrying the version.
package dockerfile_test

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func repoRoot(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("cannot locate the test file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// stage is the instructions from one FROM to the next.
type stage struct {
	from, name string
	instrs     []instruction
}

// parseDockerfile splits a Dockerfile into its stages. Instructions before
// the first FROM (global ARGs) are returned apart.
func parseDockerfile(tb testing.TB, path string) (global []instruction, stages []stage) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if rest, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(line)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	for _, l := range lines {
		cmd, args, _ := strings.Cut(l, " ")
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			fields := strings.Fields(in.args)
			var s stage
			for i := 0; i < len(fields); i++ {
				switch {
				case strings.HasPrefix(fields[i], "--"):
				case strings.EqualFold(fields[i], "AS") && i+1 < len(fields):
					s.name = fields[i+1]
					i++
				case s.from == "":
					s.from = fields[i]
				}
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			global = append(global, in)
			continue
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	return global, stages
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func (s stage) only(tb testing.TB, cmd string) string {
	tb.Helper()
	got := s.all(cmd)
	if len(got) != 1 {
		tb.Fatalf("stage %s (%s) has %d %s instructions, want 1", s.name, s.from, len(got), cmd)
	}
	return got[0].args
}

func jsonForm(tb testing.TB, what, args string) []string {
	tb.Helper()
	var v []string
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		tb.Fatalf("%s %s is not in exec (JSON) form, so a shell would be needed: %v", what, args, err)
	}
	return v
}

func TestFinalImage(t *testing.T) {
	_, stages := parseDockerfile(t, filepath.Join(repoRoot(t), "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a final one", len(stages))
	}
	final := stages[len(stages)-1]
	if final.from != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("final base image %s, want gcr.io/distroless/static-debian12:nonroot", final.from)
	}
	if u := final.only(t, "USER"); u != "65532:65532" {
		t.Errorf("USER %s, want 65532:65532 (distroless nonroot; numeric, so runAsNonRoot can verify it)", u)
	}
	if ep := jsonForm(t, "ENTRYPOINT", final.only(t, "ENTRYPOINT")); !slices.Equal(ep, []string{"/spot-handler"}) {
		t.Errorf("ENTRYPOINT %v, want [/spot-handler]", ep)
	}
	if c := jsonForm(t, "CMD", final.only(t, "CMD")); !slices.Equal(c, []string{"agent"}) {
		t.Errorf("CMD %v, want [agent]", c)
	}
	for _, in := range final.instrs {
		if in.cmd == "RUN" {
			t.Errorf("the final stage runs %q: distroless has no shell", in.args)
		}
	}
	build := buildStage(t, stages)
	copyArgs := strings.Fields(final.only(t, "COPY"))
	out := outputPath(t, buildCommand(t, build))
	if !slices.Equal(copyArgs, []string{"--from=" + build.name, out, "/spot-handler"}) {
		t.Errorf("COPY %v, want --from=%s %s /spot-handler", copyArgs, build.name, out)
	}
	if !strings.Contains(strings.Join(strings.Fields(build.from), " "), "golang:") {
		t.Errorf("build stage base %s, want a golang image", build.from)
	}
}

// buildStage is the stage whose RUN has the go build.
func buildStage(t *testing.T, stages []stage) stage {
	t.Helper()
	for _, s := range stages {
		for _, in := range s.all("RUN") {
			if strings.Contains(in.args, "go build") {
				return s
			}
		}
	}
	t.Fatal("no stage runs go build")
	return stage{}
}

// buildCommand is the shell command of the build stage's go build RUN,
// without RUN's own --mount options.
func buildCommand(t *testing.T, s stage) string {
	t.Helper()
	for _, in := range s.all("RUN") {
		if !strings.Contains(in.args, "go build") {
			continue
		}
		f := strings.Fields(in.args)
		for len(f) > 0 && strings.HasPrefix(f[0], "--") {
			f = f[1:]
		}
		return strings.Join(f, " ")
	}
	t.Fatal("no go build RUN")
	return ""
}

func outputPath(t *testing.T, cmd string) string {
	t.Helper()
	f := strings.Fields(cmd)
	i := slices.Index(f, "-o")
	if i < 0 || i+1 >= len(f) {
		t.Fatalf("go build command %q has no -o", cmd)
	}
	return f[i+1]
}

// fakeGo writes a `go` that prints its environment and arguments, one per line.
func fakeGo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\necho \"CGO_ENABLED=$CGO_ENABLED\"\necho \"GOOS=$GOOS\"\necho \"GOARCH=$GOARCH\"\nfor a in \"$@\"; do echo \"arg:$a\"; done\n"
	if err := os.WriteFile(filepath.Join(dir, "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// withoutOutput drops the -o argument and its value, the one place the two builds differ.
func withoutOutput(s string) string {
	var out []string
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := 0; i < len(lines); i++ {
		if lines[i] == "arg:-o" {
			i++
			continue
		}
		out = append(out, lines[i])
	}
	return strings.Join(out, "\n")
}

// TestBuildMatchesMakefile runs the Dockerfile's build command and `make
// image-binary` with the same build arguments against a fake go, and
// compares what each would run.
func TestBuildMatchesMakefile(t *testing.T) {
	root := repoRoot(t)
	global, stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	build := buildStage(t, stages)
	declared := map[string]bool{}
	for _, in := range append(global, build.all("ARG")...) {
		name, _, _ := strings.Cut(in.args, "=")
		declared[name] = true
	}
	for _, a := range []string{"TARGETOS", "TARGETARCH", "VERSION", "COMMIT"} {
		if !declared[a] {
			t.Errorf("the build stage does not declare ARG %s", a)
		}
	}
	bin := fakeGo(t)
	args := map[string]string{"TARGETOS": "linux", "TARGETARCH": "arm64", "VERSION": "v9.9.9-test", "COMMIT": "abc1234"}
	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}
	for k, v := range args {
		env = append(env, k+"="+v)
	}

	docker := exec.Command("sh", "-c", buildCommand(t, build))
	docker.Dir, docker.Env = root, env
	dout, err := docker.CombinedOutput()
	if err != nil {
		t.Fatalf("the Dockerfile's build command: %v\n%s", err, dout)
	}
	mk := exec.Command("make", "--no-print-directory", "-s", "image-binary", "GO="+filepath.Join(bin, "go"),
		"VERSION="+args["VERSION"], "COMMIT="+args["COMMIT"])
	mk.Dir, mk.Env = root, env
	mout, err := mk.Output()
	if err != nil {
		t.Fatalf("make image-binary: %v\n%s", err, mout)
	}
	// make echoes the recipe first; keep the fake go's lines.
	var kept []string
	for _, l := range strings.Split(string(mout), "\n") {
		if strings.HasPrefix(l, "arg:") || strings.HasPrefix(l, "CGO_ENABLED=") || strings.HasPrefix(l, "GOOS=") || strings.HasPrefix(l, "GOARCH=") {
			kept = append(kept, l)
		}
	}
	d, m := withoutOutput(string(dout)), withoutOutput(strings.Join(kept, "\n"))
	if d != m {
		t.Fatalf("the Dockerfile and make image-binary build differently:\nDockerfile:\n%s\nmake:\n%s", d, m)
	}
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "arg:build", "arg:-trimpath",
		"arg:./cmd/spot-handler", "internal/version.Version=v9.9.9-test", "internal/version.Commit=abc1234"} {
		if !strings.Contains(d, want) {
			t.Errorf("the build lacks %s:\n%s", want, d)
		}
	}
}

// TestBuildIsStatic runs the Dockerfile's build command with the real go
// (for this machine's architecture) and checks the binary is static, as a
// distroless static image needs, and reports the version it was given.
func TestBuildIsStatic(t *testing.T) {
	root := repoRoot(t)
	_, stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	cmdline := buildCommand(t, buildStage(t, stages))
	out := filepath.Join(t.TempDir(), "spot-handler")
	cmdline = strings.Replace(cmdline, "-o "+outputPath(t, cmdline), "-o "+out, 1)
	cmd := exec.Command("sh", "-c", cmdline)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TARGETOS="+runtime.GOOS, "TARGETARCH="+runtime.GOARCH, "VERSION=v0.0.0-dockerfile-test", "COMMIT=feedbee")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building as the Dockerfile does: %v\n%s", err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (program header %s); distroless static has no libc", p.Type)
		}
	}
	v, err := exec.Command(out, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(v), "v0.0.0-dockerfile-test") {
		t.Errorf("spot-handler version: %v\n%s\nwant the VERSION build argument in it", err, v)
	}
}

// TestDockerignoreKeepsSources: the build context keeps what go build reads.
func TestDockerignoreKeepsSources(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		pat := strings.TrimSpace(line)
		if pat == "" || strings.HasPrefix(pat, "#") || strings.HasPrefix(pat, "!") {
			continue
		}
		for _, keep := range []string{"go.mod", "go.sum", "cmd", "cmd/spot-handler/main.go", "internal", "internal/version/version.go", "pkg", "pkg/drain"} {
			if ok, _ := filepath.Match(strings.TrimPrefix(pat, "**/"), keep); ok {
				t.Errorf(".dockerignore pattern %q drops %s, which the build needs", pat, keep)
			}
		}
	}
}
