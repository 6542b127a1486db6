package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rewardrelay/rewardrelay/shared/relay"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
)

type fakeReconciler struct{ run reward.Run }

func (f fakeReconciler) Run(context.Context) reward.Run { return f.run }

var t0 = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func TestHandleLogsTheSummaryAndFailsOnlyAUselessRun(t *testing.T) {
	tests := []struct {
		name    string
		run     reward.Run
		wantErr bool
	}{
		{"complete", reward.Run{ID: "r1", Started: t0, Finished: t0.Add(time.Second), Complete: true, Counts: map[string]int{relay.CountListed: 5, relay.CountDelivered: 2}}, false},
		{"stopped at the deadline", reward.Run{ID: "r2", Started: t0, Finished: t0, Counts: map[string]int{relay.CountListed: 100}}, false},
		{"some errors", reward.Run{ID: "r3", Started: t0, Finished: t0, Complete: true, Counts: map[string]int{relay.CountListed: 1}, Errors: []string{"agentref conversions: 503"}}, false},
		{"nothing worked", reward.Run{ID: "r4", Started: t0, Finished: t0, Complete: true, Counts: map[string]int{}, Errors: []string{"firstpromoter approved: 401"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &bytes.Buffer{}
			h := Handler{Reconciler: fakeReconciler{tt.run}, Log: telemetry.NewLogger(logs, "")}
			err := h.Handle(t.Context(), events.CloudWatchEvent{})
			if (err != nil) != tt.wantErr {
				t.Errorf("Handle: %v, want error %v", err, tt.wantErr)
			}
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("log: %v: %s", err, logs)
			}
			if line["run"] != tt.run.ID || line["_aws"] == nil || line[relay.CountListed] == nil {
				t.Errorf("log line %v", line)
			}
		})
	}
}

func TestReplaySamples(t *testing.T) {
	files, _ := filepath.Glob("../../../events/schedule-*.json")
	if len(files) == 0 {
		t.Fatal("no reconciler samples in events/")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev events.CloudWatchEvent
		if err := json.Unmarshal(raw, &ev); err != nil || ev.DetailType != "Scheduled Event" {
			t.Fatalf("%s: %v %+v", f, err, ev)
		}
		h := Handler{Reconciler: fakeReconciler{reward.Run{ID: "r", Complete: true, Counts: map[string]int{}}}, Log: telemetry.NewLogger(&bytes.Buffer{}, "")}
		if err := h.Handle(t.Context(), ev); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// records checks every line of logs and returns the EMF records among them.
func records(t *testing.T, logs []byte) []map[string]any {
	t.Helper()
	out, errs := telemetry.Records(logs)
	for _, err := range errs {
		t.Error(err)
	}
	return out
}

func TestRunSummaryIsAValidMetricRecordAtEveryLogLevel(t *testing.T) {
	run := reward.Run{
		ID: "r1", Started: t0, Finished: t0.Add(3 * time.Second), Complete: true,
		Counts: map[string]int{relay.CountListed: 7, relay.CountDrift: 2, relay.GaugeOutboxAge: 90},
		Drift:  []reward.Drift{{Provider: reward.FirstPromoter, CommissionID: "1", Problem: "fulfilled on the platform, never delivered"}, {Provider: reward.FirstPromoter, CommissionID: "2", Problem: "amount changed"}},
		Errors: []string{"agentref conversions: 503"},
	}
	answers := &telemetry.Answers{}
	for _, level := range []string{"DEBUG", "INFO", "WARN", "ERROR"} {
		t.Run(level, func(t *testing.T) {
			logs := &bytes.Buffer{}
			h := Handler{Reconciler: fakeReconciler{run}, Log: telemetry.New(logs, telemetry.Options{Level: level, Stack: "rewardrelay-prod"}), Answers: answers}
			if err := h.Handle(t.Context(), events.CloudWatchEvent{}); err != nil {
				t.Fatal(err)
			}
			recs := records(t, logs.Bytes())
			if len(recs) != 1 {
				t.Fatalf("%d metric records, want the run summary:\n%s", len(recs), logs)
			}
			r := recs[0]
			if r["drift"] != float64(2) || r["stack"] != "rewardrelay-prod" || r["function"] != "reconciler" || r["outbox_oldest_seconds"] != float64(90) {
				t.Errorf("summary %v", r)
			}
			if list, _ := r["drift_list"].([]any); len(list) != 2 {
				t.Errorf("drift_list %v, want the two drift items", r["drift_list"])
			}
		})
	}
}
