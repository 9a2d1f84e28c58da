package main

import (
	"fmt"

	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/klog/v2"
)

// newLogger builds the process's zap logger, writing to stderr in format
// (json or console) at level, and routes klog, which client-go logs
// through (reflectors, leader election, warnings from the API server),
// into it: one log format on stderr.
func newLogger(format, level string, io stdio) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level=%q: want debug, info, warn or error", level)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	var e zapcore.Encoder
	switch format {
	case "json":
		e = zapcore.NewJSONEncoder(enc)
	case "console":
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		e = zapcore.NewConsoleEncoder(enc)
	default:
		return nil, fmt.Errorf("--log-format=%q: want json or console", format)
	}
	log := zap.New(zapcore.NewCore(e, zapcore.AddSync(io.err), lvl))
	klog.SetLogger(zapr.NewLogger(log.Named("client-go")))
	return log, nil
}
