package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSpecMakesAnEMFRecord(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, "")
	spec := NewSpec([][]string{{"provider", "outcome"}}, Metric{Name: "Webhooks", Unit: Count})
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	log.LogAttrs(context.Background(), slog.LevelInfo, "webhook",
		slog.String("provider", "agentref"), slog.String("outcome", "accepted"), slog.Int("Webhooks", 1), spec.Attr(at))

	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("log line is not JSON: %v\n%s", err, buf.String())
	}
	want := map[string]any{
		"Timestamp": float64(at.UnixMilli()),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  "rewardrelay",
			"Dimensions": []any{[]any{"provider", "outcome"}},
			"Metrics":    []any{map[string]any{"Name": "Webhooks", "Unit": "Count"}},
		}},
	}
	if diff := cmp.Diff(want, got["_aws"]); diff != "" {
		t.Errorf("_aws (-want +got):\n%s", diff)
	}
	for _, field := range []string{"provider", "outcome", "Webhooks"} {
		if _, ok := got[field]; !ok {
			t.Errorf("field %q is not at the top level of %s", field, buf.String())
		}
	}
}

func TestNewLoggerHonoursLambdaLogLevel(t *testing.T) {
	tests := []struct {
		level string
		debug bool
		info  bool
		warn  bool
	}{
		{"", false, true, true},
		{"DEBUG", true, true, true},
		{"info", false, true, true},
		{"WARN", false, false, true},
		{"ERROR", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			log := NewLogger(&bytes.Buffer{}, tt.level)
			ctx := context.Background()
			got := []bool{log.Enabled(ctx, slog.LevelDebug), log.Enabled(ctx, slog.LevelInfo), log.Enabled(ctx, slog.LevelWarn)}
			if diff := cmp.Diff([]bool{tt.debug, tt.info, tt.warn}, got); diff != "" {
				t.Errorf("enabled debug/info/warn (-want +got):\n%s", diff)
			}
		})
	}
}
