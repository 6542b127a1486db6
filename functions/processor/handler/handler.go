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

// Requeue sends received messages to their queue again after a delay,
// returning the ids of those it could not send.
type Requeue interface {
	Requeue(ctx context.Context, msgs []queue.Delayed) ([]string, error)
}

// Handler handles SQS batches (ReportBatchItemFailures).
type Handler struct {
	Processor Processor
	// Queue takes the messages that wait for their platform; without it
	// they fail and are retried like any other failure.
	Queue Requeue
	Log   *slog.Logger
	Now   func() time.Time
	// Answers counts the platforms' 429 and 5xx answers (nil: none
	// counted).
	Answers *telemetry.Answers
}

// metricNames are the batch's counters, each a field of its line, in a
// stable order.
var metricNames = []string{
	relay.CountApplied, relay.CountDuplicate, relay.CountStale, relay.CountIgnored, relay.CountDelivered,
	relay.CountAcknowledged, relay.CountAckFailed, relay.CountAckRefused, relay.CountAckPending, relay.CountPlatformError, relay.CountFailed,
	relay.CountAccountChanged, relay.CountWaiting, "undecodable",
}

// batchMetrics are the fields the alarms and the dashboard use, as EMF
// metrics; the others stay fields of the line, for Logs Insights, because
// each metric is billed by the month.
var batchMetrics = func() telemetry.Spec {
	var ms []telemetry.Metric
	for _, n := range []string{
		relay.CountApplied, relay.CountDuplicate, relay.CountStale, relay.CountDelivered, relay.CountAcknowledged,
		relay.CountAckPending, relay.CountAckFailed, relay.CountPlatformError, relay.CountFailed, relay.CountWaiting,
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
	failed = append(failed, h.requeue(ctx, ev.Records, res)...)
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

// requeue sends the messages that wait for their platform to the queue
// again, delayed, and returns those it could not send: they stay on the
// queue and are retried after its visibility timeout. The others are
// reported processed, so the event source mapping deletes them only once
// their copy is on the queue.
func (h Handler) requeue(ctx context.Context, records []events.SQSMessage, res relay.Result) []string {
	if len(res.Later) == 0 {
		return nil
	}
	byID := make(map[string]events.SQSMessage, len(records))
	for _, m := range records {
		byID[m.MessageId] = m
	}
	later := make([]queue.Delayed, 0, len(res.Later))
	ids := make([]string, 0, len(res.Later))
	for _, l := range res.Later {
		later = append(later, queue.Delayed{Message: byID[l.ID], Delay: l.After})
		ids = append(ids, l.ID)
	}
	if h.Queue == nil {
		res.Counts[relay.CountFailed] += len(ids)
		return ids
	}
	failed, err := h.Queue.Requeue(ctx, later)
	res.Counts[relay.CountFailed] += len(failed)
	if err != nil {
		h.Log.WarnContext(ctx, "could not queue waiting messages again; they are retried after the visibility timeout", "messages", len(failed), "error", err.Error())
	}
	return failed
}
