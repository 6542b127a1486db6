// Package handler is the ReconcilerFunction's handler: one scheduled run
// of the reconciler, summarised as one log line and EMF metrics.
package handler

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rewardrelay/rewardrelay/shared/relay"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
)

// Reconciler runs once.
type Reconciler interface {
	Run(ctx context.Context) reward.Run
}

// Handler handles EventBridge schedule events.
type Handler struct {
	Reconciler Reconciler
	Log        *slog.Logger
	// Answers counts the platforms' 429 and 5xx answers (nil: none
	// counted).
	Answers *telemetry.Answers
}

// metricNames are the run counters, each a field of the summary line.
var metricNames = []string{
	relay.CountListed, relay.CountPages, relay.CountApplied, relay.CountDelivered, relay.CountAcknowledged,
	relay.CountAckFailed, relay.CountAckRefused, relay.CountAckPending, relay.CountAutoApprove, relay.CountBatches, relay.CountDrift,
	relay.CountViolations, relay.CountPlatformError, relay.CountStale, relay.CountAudited,
}

// runMetrics are the fields the alarms and the dashboard use, as EMF
// metrics (duration_ms is also the heartbeat: one sample per run); the
// others stay fields of the line, for Logs Insights, because each metric is
// billed by the month.
var runMetrics = func() telemetry.Spec {
	var ms []telemetry.Metric
	for _, n := range []string{
		relay.CountDelivered, relay.CountAcknowledged, relay.CountDrift, relay.CountViolations, relay.CountPlatformError,
		"errors", "incomplete", telemetry.RateLimited, telemetry.ServerErrors,
	} {
		ms = append(ms, telemetry.Metric{Name: n, Unit: telemetry.Count})
	}
	ms = append(ms, telemetry.Metric{Name: relay.GaugeOutboxAge, Unit: telemetry.Seconds},
		telemetry.Metric{Name: "duration_ms", Unit: telemetry.Milliseconds})
	return telemetry.NewSpec([][]string{{"function"}}, ms...)
}()

// Handle runs the reconciler. It fails (so the schedule retries, then
// dead-letters) only when the run could not do any of its steps.
func (h Handler) Handle(ctx context.Context, _ events.CloudWatchEvent) error {
	run := h.Reconciler.Run(ctx)
	incomplete := 0
	if !run.Complete {
		incomplete = 1
	}
	attrs := []slog.Attr{
		slog.String("function", "reconciler"), slog.String("run", run.ID), slog.Bool("complete", run.Complete),
		slog.Int("errors", len(run.Errors)), slog.Int("incomplete", incomplete),
		slog.Float64("duration_ms", float64(run.Finished.Sub(run.Started).Microseconds())/1000),
		// The metric "drift" is the count; the items go under their own key.
		slog.Any("drift_list", run.Drift), slog.Any("error_list", run.Errors),
		runMetrics.Attr(run.Started),
	}
	for _, n := range metricNames {
		attrs = append(attrs, slog.Int(n, run.Counts[n]))
	}
	attrs = append(attrs, slog.Int(relay.GaugeOutboxAge, run.Counts[relay.GaugeOutboxAge]))
	attrs = appendAnswers(attrs, h.Answers)
	level := slog.LevelInfo
	if len(run.Errors) > 0 {
		level = slog.LevelWarn
	}
	h.Log.LogAttrs(ctx, level, "reconcile", attrs...)
	if len(run.Errors) > 0 && run.Counts[relay.CountListed] == 0 && run.Counts[relay.CountApplied] == 0 {
		return fmt.Errorf("reconcile run %s did nothing: %d errors, first: %s", run.ID, len(run.Errors), run.Errors[0])
	}
	return nil
}

// appendAnswers adds the platforms' answer counts since the last run.
func appendAnswers(attrs []slog.Attr, a *telemetry.Answers) []slog.Attr {
	counts := map[string]int{}
	if a != nil {
		counts = a.Take()
	}
	return append(attrs, slog.Int(telemetry.RateLimited, counts[telemetry.RateLimited]), slog.Int(telemetry.ServerErrors, counts[telemetry.ServerErrors]))
}
