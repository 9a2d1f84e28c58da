package flagenv

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"
)

// recorder wraps a flag's Value for the length of a parse, to learn which
// flag refused which value: the flag package's own error says only "parse
// error" for a bad duration, bool or number.
type recorder struct {
	flag.Value
	name   string
	failed *badValue
}

// badValue is the first value a flag refused.
type badValue struct {
	name, value string
	inner       flag.Value
	err         error
}

func (r recorder) Set(s string) error {
	err := r.Value.Set(s)
	if err != nil && r.failed.name == "" {
		*r.failed = badValue{name: r.name, value: s, inner: r.Value, err: err}
	}
	return err
}

// IsBoolFlag keeps --flag (no value) working for bool flags.
func (r recorder) IsBoolFlag() bool {
	b, ok := r.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// record wraps every flag of fs and returns where the first refusal lands
// and a function that puts the original values back.
func record(fs *flag.FlagSet) (*badValue, func()) {
	failed := &badValue{}
	orig := map[*flag.Flag]flag.Value{}
	fs.VisitAll(func(f *flag.Flag) {
		orig[f] = f.Value
		f.Value = recorder{Value: f.Value, name: f.Name, failed: failed}
	})
	return failed, func() {
		for f, v := range orig {
			f.Value = v
		}
	}
}

// Want says what a flag of v's kind takes, given the error its Set
// returned: the kind in words for the standard flag types (whose errors
// are only "parse error"), the error's own text for any other.
func Want(v flag.Value, err error) string {
	g, ok := v.(flag.Getter)
	if !ok {
		return err.Error()
	}
	var want string
	switch g.Get().(type) {
	case bool:
		return "want true or false"
	case time.Duration:
		want = "want a duration like 5s, 1m30s or 500ms (a unit is required)"
	case int, int64:
		want = "want a whole number"
	case uint, uint64:
		want = "want a whole number, 0 or more"
	case float64:
		want = "want a number like 2.5"
	default:
		return err.Error()
	}
	if errors.Is(err, strconv.ErrRange) || err.Error() == "value out of range" {
		want += " (out of range)"
	}
	return want
}

// Secret is a flag value that may hold a secret (a header with a token):
// an error about it names the flag, never the value.
type Secret interface{ Secret() bool }

// describe is the one-line error of a flag's refused value.
func (b *badValue) describe(cmd string) error {
	return fmt.Errorf("%s: --%s=%s: %s (run '%s --help' for the flags)", cmd, b.name, shown(b.inner, b.value), Want(b.inner, b.err), cmd)
}

// shown is how an error prints value v of flag value fv: quoted, unless fv
// may hold a secret.
func shown(fv flag.Value, v string) string {
	if s, ok := fv.(Secret); ok && s.Secret() {
		return "(not shown: it may hold a secret)"
	}
	return fmt.Sprintf("%q", v)
}
