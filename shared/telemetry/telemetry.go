// Package telemetry sets up the JSON logger every function uses and turns
// log lines into CloudWatch metrics with the Embedded Metric Format (EMF):
// one line per event is both the log and the metric, so there is no metrics
// API call and no second line.
package telemetry

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Namespace is the CloudWatch namespace of every rewardrelay metric.
const Namespace = "rewardrelay"

// StackDimension is the dimension, present in every dimension set, that
// names the deployment, so that two stacks in one account keep their
// metrics (and alarms) apart.
const StackDimension = "stack"

// LocalStack is the stack dimension's value when no stack is named (the
// local stack, tests).
const LocalStack = "local"

// Options configure a logger.
type Options struct {
	// Level is the lowest level of the lines written: DEBUG, INFO, WARN or
	// ERROR (INFO when empty or unknown). Metric records are written at
	// any level: metrics are not logs.
	Level string
	// Stack names the deployment (the CloudFormation stack name): every
	// line carries it, and it is the value of every metric's stack
	// dimension. LocalStack when empty.
	Stack string
}

// New returns a JSON logger writing to w.
func New(w io.Writer, o Options) *slog.Logger {
	stack := o.Stack
	if stack == "" {
		stack = LocalStack
	}
	next := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}).
		WithAttrs([]slog.Attr{slog.String(StackDimension, stack)})
	return slog.New(&handler{next: next, level: ParseLevel(o.Level)})
}

// NewLogger returns a JSON logger writing to w at level (see
// Options.Level), for the local stack.
func NewLogger(w io.Writer, level string) *slog.Logger {
	return New(w, Options{Level: level})
}

// ParseLevel reads a level name as Lambda spells them (TRACE, DEBUG, INFO,
// WARN, ERROR, FATAL, any case); INFO when empty or unknown.
func ParseLevel(name string) slog.Level {
	switch strings.ToUpper(name) {
	case "TRACE", "DEBUG":
		return slog.LevelDebug
	case "WARN":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// handler drops the lines below its level, except metric records (lines
// with an "_aws" attribute), which are always written.
type handler struct {
	next  slog.Handler
	level slog.Level
}

// Enabled is true from INFO up even when the level is higher: a metric
// record at INFO must still be written, and Handle drops the other lines.
// Metric records are never DEBUG lines.
func (h *handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level || l >= slog.LevelInfo
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < h.level && !isMetricRecord(r) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{next: h.next.WithAttrs(attrs), level: h.level}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name), level: h.level}
}

func isMetricRecord(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == "_aws"
		return !found
	})
	return found
}

// Unit is a CloudWatch metric unit.
type Unit string

// Units used by rewardrelay.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
	Seconds      Unit = "Seconds"
)

// Metric names a value that the same log line carries as a top-level field.
type Metric struct {
	Name string `json:"Name"`
	Unit Unit   `json:"Unit"`
}

// Spec is a prepared EMF directive: which top-level fields of a log line are
// metrics and which are their dimensions.
type Spec struct {
	metrics slog.Attr
}

// NewSpec prepares a directive. Each dimension set lists top-level field
// names whose values must be strings on every line the spec is attached to;
// the stack dimension, which the logger adds to every line, is put in front
// of each set. Keep dimension values low-cardinality: every distinct
// combination is a billed custom metric.
func NewSpec(dimensionSets [][]string, metrics ...Metric) Spec {
	sets := make([][]string, len(dimensionSets))
	for i, set := range dimensionSets {
		sets[i] = append([]string{StackDimension}, set...)
	}
	// Only strings and slices of strings: marshalling cannot fail.
	directive, _ := json.Marshal([]struct {
		Namespace  string
		Dimensions [][]string
		Metrics    []Metric
	}{{Namespace, sets, metrics}})
	return Spec{metrics: slog.Any("CloudWatchMetrics", json.RawMessage(directive))}
}

// Attr returns the "_aws" attribute that makes the log line carrying it an
// EMF record at time t.
func (s Spec) Attr(t time.Time) slog.Attr {
	return slog.GroupAttrs("_aws", slog.Int64("Timestamp", t.UnixMilli()), s.metrics)
}
