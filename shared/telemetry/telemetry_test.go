package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
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
			"Dimensions": []any{[]any{"stack", "provider", "outcome"}},
			"Metrics":    []any{map[string]any{"Name": "Webhooks", "Unit": "Count"}},
		}},
	}
	if diff := cmp.Diff(want, got["_aws"]); diff != "" {
		t.Errorf("_aws (-want +got):\n%s", diff)
	}
	for _, field := range []string{"stack", "provider", "outcome", "Webhooks"} {
		if _, ok := got[field]; !ok {
			t.Errorf("field %q is not at the top level of %s", field, buf.String())
		}
	}
}

func TestLoggerWritesLinesFromItsLevelAndMetricsAtAnyLevel(t *testing.T) {
	spec := NewSpec([][]string{{"function"}}, Metric{Name: "applied", Unit: Count})
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		level string
		want  []string // messages written, in order
	}{
		{"", []string{"info", "warn", "error", "metric at info", "metric at warn"}},
		{"DEBUG", []string{"debug", "info", "warn", "error", "metric at info", "metric at warn"}},
		{"info", []string{"info", "warn", "error", "metric at info", "metric at warn"}},
		{"WARN", []string{"warn", "error", "metric at info", "metric at warn"}},
		{"ERROR", []string{"error", "metric at info", "metric at warn"}},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			var buf bytes.Buffer
			log := New(&buf, Options{Level: tt.level, Stack: "rewardrelay-prod"})
			ctx := context.Background()
			log.Debug("debug")
			log.Info("info")
			log.Warn("warn")
			log.Error("error")
			log.LogAttrs(ctx, slog.LevelInfo, "metric at info", slog.String("function", "processor"), slog.Int("applied", 1), spec.Attr(at))
			log.LogAttrs(ctx, slog.LevelWarn, "metric at warn", slog.String("function", "processor"), slog.Int("applied", 1), spec.Attr(at))
			var got []string
			for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
				var m map[string]any
				if err := json.Unmarshal(line, &m); err != nil {
					t.Fatalf("%v: %s", err, line)
				}
				if m["stack"] != "rewardrelay-prod" {
					t.Errorf("line without the stack: %s", line)
				}
				got = append(got, m["msg"].(string))
				if m["_aws"] != nil {
					if err := CheckRecord(line); err != nil {
						t.Errorf("%v: %s", err, line)
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines written (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseLevel(t *testing.T) {
	for name, want := range map[string]slog.Level{"": slog.LevelInfo, "TRACE": slog.LevelDebug, "debug": slog.LevelDebug, "INFO": slog.LevelInfo, "WARN": slog.LevelWarn, "ERROR": slog.LevelError, "FATAL": slog.LevelError, "loud": slog.LevelInfo} {
		if got := ParseLevel(name); got != want {
			t.Errorf("ParseLevel(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestCheckRecord(t *testing.T) {
	const directive = `"_aws":{"Timestamp":1763640000000,"CloudWatchMetrics":[{"Namespace":"rewardrelay","Dimensions":[["stack","function"]],"Metrics":[{"Name":"drift","Unit":"Count"}]}]}`
	tests := []struct {
		name string
		line string
		want string // part of the error; "" for a valid record
	}{
		{"valid", `{"stack":"s","function":"reconciler","drift":2,` + directive + `}`, ""},
		{"key twice", `{"stack":"s","function":"reconciler","drift":[],"drift":2,` + directive + `}`, `key "drift" appears twice`},
		{"key twice in a nested object", `{"stack":"s","function":"reconciler","drift":2,"x":{"a":1,"a":2},` + directive + `}`, `key "a" appears twice`},
		{"metric not a number", `{"stack":"s","function":"reconciler","drift":[{"id":"1"}],` + directive + `}`, "metric drift"},
		{"metric missing", `{"stack":"s","function":"reconciler",` + directive + `}`, "metric drift"},
		{"dimension missing", `{"function":"reconciler","drift":2,` + directive + `}`, "dimension stack"},
		{"dimension not a string", `{"stack":"s","function":3,"drift":2,` + directive + `}`, "dimension function"},
		{"dimension empty", `{"stack":"","function":"reconciler","drift":2,` + directive + `}`, "dimension stack"},
		{"not JSON", `{"stack":"s",` + directive, "not JSON"},
		{"two values", `{"stack":"s","function":"reconciler","drift":2,` + directive + `} {}`, "more than one"},
		{"no directive", `{"msg":"hello"}`, "not an EMF record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRecord([]byte(tt.line))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckRecord: %v, want a valid record", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("CheckRecord: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestAnswersCountsRateLimitsAndServerErrors(t *testing.T) {
	statuses := []int{200, 429, 429, 503, 404, 500}
	i := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(statuses[i])
		i++
	}))
	defer srv.Close()
	a := &Answers{}
	client := &http.Client{Transport: a}
	for range statuses {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if diff := cmp.Diff(map[string]int{RateLimited: 2, ServerErrors: 2}, a.Take()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{RateLimited: 0, ServerErrors: 0}, a.Take()); diff != "" {
		t.Errorf("counts after a Take (-want +got):\n%s", diff)
	}
}
