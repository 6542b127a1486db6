// Package handler is the EventsFunction's handler: it hands a batch of the
// ledger table's stream records to the announcer and reports exactly the
// records whose events were not all published.
package handler

import (
	"context"
	"log/slog"
	"sort"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/rewardrelay/rewardrelay/shared/announce"
)

// Announcer publishes the entries of stream records.
type Announcer interface {
	Announce(ctx context.Context, records []events.DynamoDBEventRecord) announce.Result
}

// Handler handles DynamoDB stream batches (ReportBatchItemFailures).
type Handler struct {
	Announcer Announcer
	Log       *slog.Logger
	Now       func() time.Time
}

// Handle publishes one batch. It returns a nil error: a record whose events
// were not all published is reported as a batch item failure, and Lambda
// sends it (and the records after it in its shard) again; the events
// already published are published again then, which the consumers'
// idempotency key (the entry id) makes harmless.
func (h Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	start := h.Now()
	res := h.Announcer.Announce(ctx, ev.Records)
	resp := events.DynamoDBEventResponse{}
	for _, seq := range res.Failed {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: seq})
	}
	took := h.Now().Sub(start)
	attrs := []slog.Attr{
		slog.String("function", "events"), slog.Int("records", len(ev.Records)), slog.Int("skipped", res.Skipped),
		slog.Int("entries", res.Entries), slog.Int("published", res.Published), slog.Int("failed_records", len(res.Failed)),
		slog.Int("put_events_requests", res.Bus.Requests), slog.Int("put_events_retried", res.Bus.Retried),
		slog.Float64("duration_ms", float64(took.Microseconds())/1000),
	}
	if len(res.Lags) > 0 {
		lags := append([]time.Duration(nil), res.Lags...)
		sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
		attrs = append(attrs, slog.Float64("lag_max_ms", float64(lags[len(lags)-1].Microseconds())/1000))
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		attrs = append(attrs, slog.String("request_id", lc.AwsRequestID))
	}
	h.Log.LogAttrs(ctx, slog.LevelInfo, "batch", attrs...)
	return resp, nil
}
