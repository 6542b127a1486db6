// Package telemetry sets up the JSON logger every function uses and turns
// log lines into CloudWatch metrics with the Embedded Metric Format (EMF):
// one line per event is both the log and the metric, so there is no metrics
// API call and no second line.
package telemetry

import (
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Namespace is the CloudWatch namespace of every rewardrelay metric.
const Namespace = "rewardrelay"

// NewLogger returns a JSON logger writing to w at the level Lambda's logging
// configuration asks for (AWS_LAMBDA_LOG_LEVEL: DEBUG, INFO, WARN, ERROR;
// INFO when empty or unknown).
func NewLogger(w io.Writer, lambdaLogLevel string) *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToUpper(lambdaLogLevel) {
	case "TRACE", "DEBUG":
		level = slog.LevelDebug
	case "WARN":
		level = slog.LevelWarn
	case "ERROR", "FATAL":
		level = slog.LevelError
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
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
// names whose values must be strings on every line the spec is attached to.
// Keep dimension values low-cardinality: every distinct combination is a
// billed custom metric.
func NewSpec(dimensionSets [][]string, metrics ...Metric) Spec {
	// Only strings and slices of strings: marshalling cannot fail.
	directive, _ := json.Marshal([]struct {
		Namespace  string
		Dimensions [][]string
		Metrics    []Metric
	}{{Namespace, dimensionSets, metrics}})
	return Spec{metrics: slog.Any("CloudWatchMetrics", json.RawMessage(directive))}
}

// Attr returns the "_aws" attribute that makes the log line carrying it an
// EMF record at time t.
func (s Spec) Attr(t time.Time) slog.Attr {
	return slog.GroupAttrs("_aws", slog.Int64("Timestamp", t.UnixMilli()), s.metrics)
}
