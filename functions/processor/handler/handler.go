// Package handler is the ProcessorFunction's handler: it decodes a batch of
// queued webhook deliveries, has the relay apply them to the ledger and
// reports exactly the messages that must be retried.
package handler

import (
	"context"
	"log/slog"
	"sort"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/rewardrelay/rewardrelay/shared/queue"
	"github.com/rewardrelay/rewardrelay/shared/relay"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
)

// Processor applies a batch.
type Processor interface {
	Process(ctx context.Context, msgs []relay.Message) relay.Result
}

// Handler handles SQS batches (ReportBatchItemFailures).
type Handler struct {
	Processor Processor
	Log       *slog.Logger
	Now       func() time.Time
	// Answers counts the platforms' 429 and 5xx answers (nil: none
	// counted).
	Answers *telemetry.Answers
}

// metricNames are the batch's counters, each a field of its line, in a
// stable order.
var metricNames = []string{
	relay.CountApplied, relay.CountDuplicate, relay.CountStale, relay.CountIgnored, relay.CountDelivered,
	relay.CountAcknowledged, relay.CountAckFailed, relay.CountAckPending, relay.CountPlatformError, relay.CountFailed,
	"undecodable",
}

// batchMetrics are the fields the alarms and the dashboard use, as EMF
// metrics; the others stay fields of the line, for Logs Insights, because
// each metric is billed by the month.
var batchMetrics = func() telemetry.Spec {
	var ms []telemetry.Metric
	for _, n := range []string{
		relay.CountApplied, relay.CountDuplicate, relay.CountStale, relay.CountDelivered, relay.CountAcknowledged,
		relay.CountAckPending, relay.CountAckFailed, relay.CountPlatformError, relay.CountFailed,
		telemetry.RateLimited, telemetry.ServerErrors,
	} {
		ms = append(ms, telemetry.Metric{Name: n, Unit: telemetry.Count})
	}
	return telemetry.NewSpec([][]string{{"function"}}, ms...)
}()

// Handle processes one batch. It returns a nil error: failures are
// reported per message so one poison message never retries the others.
func (h Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	start := h.Now()
	var msgs []relay.Message
	var failed []string
	undecodable := 0
	for _, m := range ev.Records {
		d, err := queue.Decode(m)
		if err != nil {
			h.Log.ErrorContext(ctx, "undecodable message; it will reach the dead-letter queue", "message_id", m.MessageId, "error", err.Error())
			failed = append(failed, m.MessageId)
			undecodable++
			continue
		}
		msgs = append(msgs, relay.Message{ID: m.MessageId, Delivery: d})
	}
	res := relay.Result{Counts: map[string]int{}}
	if len(msgs) > 0 {
		res = h.Processor.Process(ctx, msgs)
	}
	failed = append(failed, res.Failed...)
	sort.Strings(failed)
	resp := events.SQSEventResponse{}
	for _, id := range failed {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}
	res.Counts["undecodable"] = undecodable
	attrs := []slog.Attr{slog.String("function", "processor"), slog.Int("messages", len(ev.Records)),
		slog.Float64("duration_ms", float64(h.Now().Sub(start).Microseconds())/1000), batchMetrics.Attr(start)}
	for _, n := range metricNames {
		attrs = append(attrs, slog.Int(n, res.Counts[n]))
	}
	answers := map[string]int{}
	if h.Answers != nil {
		answers = h.Answers.Take()
	}
	attrs = append(attrs, slog.Int(telemetry.RateLimited, answers[telemetry.RateLimited]), slog.Int(telemetry.ServerErrors, answers[telemetry.ServerErrors]))
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		attrs = append(attrs, slog.String("request_id", lc.AwsRequestID))
	}
	h.Log.LogAttrs(ctx, slog.LevelInfo, "batch", attrs...)
	return resp, nil
}
