// Package handler is the ProcessorFunction's handler: it decodes a batch of
// queued webhook deliveries, has the relay apply them to the ledger and
// reports exactly the messages that must be retried.
package handler

import (
	"context"
	"log/slog"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/rewardrelay/rewardrelay/shared/queue"
	"github.com/rewardrelay/rewardrelay/shared/relay"
	"github.com/rewardrelay/rewardrelay/shared/reward"
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
	// Failures keeps why each failed message failed, for rewardctl dlq
	// (nil: kept in the log lines only).
	Failures reward.FailureLog
}

// FailureTTL is how long a message's last failure is kept: as long as the
// dead-letter queue keeps the message (its MessageRetentionPeriod).
const FailureTTL = 14 * 24 * time.Hour

// maxReason bounds a recorded reason, in bytes.
const maxReason = 500

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
		relay.CountApplied, relay.CountDelivered, relay.CountAcknowledged,
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
	reasons := map[string]string{}
	undecodable := 0
	for _, m := range ev.Records {
		d, err := queue.Decode(m)
		if err != nil {
			h.Log.ErrorContext(ctx, "undecodable message; it will reach the dead-letter queue", "message_id", m.MessageId, "error", err.Error())
			failed = append(failed, m.MessageId)
			reasons[m.MessageId] = err.Error()
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
	for id, reason := range res.Reasons {
		reasons[id] = reason
	}
	waiting := "its platform's API does not answer; retried after the visibility timeout"
	if h.Queue != nil {
		waiting = "its platform's API does not answer, and it could not be queued again to wait; retried after the visibility timeout"
	}
	for _, id := range h.requeue(ctx, ev.Records, res) {
		failed = append(failed, id)
		reasons[id] = waiting
	}
	sort.Strings(failed)
	h.recordFailures(ctx, ev.Records, failed, reasons)
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

// recordFailures keeps why each failed message failed and on which
// receive. A failure to record is logged: it never fails the batch.
func (h Handler) recordFailures(ctx context.Context, records []events.SQSMessage, failed []string, reasons map[string]string) {
	if h.Failures == nil || len(failed) == 0 {
		return
	}
	byID := make(map[string]events.SQSMessage, len(records))
	for _, m := range records {
		byID[m.MessageId] = m
	}
	at := h.Now()
	for _, id := range failed {
		m := byID[id]
		attr := func(name string) string {
			if a, ok := m.MessageAttributes[name]; ok && a.StringValue != nil {
				return *a.StringValue
			}
			return ""
		}
		receives, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
		f := reward.MessageFailure{
			MessageID: id, Provider: reward.Provider(attr(queue.AttrProvider)), EventID: attr(queue.AttrEventID), EventType: attr(queue.AttrEventType),
			Reason: cut(reasons[id], maxReason), Receives: receives, At: at, ExpiresAt: at.Add(FailureTTL),
		}
		if err := h.Failures.RecordFailure(ctx, f); err != nil {
			h.Log.WarnContext(ctx, "could not record why the message failed", "message_id", id, "error", err.Error())
		}
	}
}

// cut shortens s to at most n bytes, on a character boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
