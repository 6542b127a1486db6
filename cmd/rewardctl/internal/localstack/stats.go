package localstack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/events"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	processorhandler "github.com/rewardrelay/rewardrelay/functions/processor/handler"
	"github.com/rewardrelay/rewardrelay/shared/queue"
)

// Stats counts what the local stack's functions did, for
// `rewardctl simulate --load`: DynamoDB requests (every attempt, by
// operation) and processor batches.
type Stats struct {
	mu       sync.Mutex
	dynamodb map[string]int64

	batches, messages, failed, settled atomic.Int64

	stream *streamPoller
	sink   *Sink
}

func (st *Stats) setEvents(p *streamPoller, s *Sink) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.stream, st.sink = p, s
}

// Snapshot is GET /_local/stats.
type Snapshot struct {
	DynamoDBRequests    int64            `json:"dynamodb_requests"`
	DynamoDBByOperation map[string]int64 `json:"dynamodb_by_operation"`
	ProcessorBatches    int64            `json:"processor_batches"`
	ProcessorMessages   int64            `json:"processor_messages"`
	ProcessorFailed     int64            `json:"processor_failed_messages"`
	// ProcessorSettled counts the messages the processor is done with
	// (deleted after it applied them or found they change nothing), not
	// the copies it queued again to wait for a platform: it only grows.
	ProcessorSettled int64 `json:"processor_settled_messages"`
	// The events function: events published, its invocations and the
	// time they took, and the PutEvents requests the local bus received.
	EventsPublished   int64   `json:"events_published"`
	EventsInvocations int64   `json:"events_invocations"`
	EventsBusySeconds float64 `json:"events_busy_seconds"`
	PutEventsRequests int64   `json:"put_events_requests"`
	PutEventsEntries  int64   `json:"put_events_entries"`
}

// CountDynamoDB is a client option that counts each attempt of each request.
func (st *Stats) CountDynamoDB(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("RewardrelayRequestCount",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				op := awsmiddleware.GetOperationName(ctx)
				st.mu.Lock()
				if st.dynamodb == nil {
					st.dynamodb = map[string]int64{}
				}
				st.dynamodb[op]++
				st.mu.Unlock()
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	})
}

// CountBatches wraps the processor's handler.
func (st *Stats) CountBatches(h SQSHandler) SQSHandler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		resp, err := h(ctx, ev)
		st.batches.Add(1)
		st.messages.Add(int64(len(ev.Records)))
		if err != nil {
			st.failed.Add(int64(len(ev.Records)))
		} else {
			st.failed.Add(int64(len(resp.BatchItemFailures)))
		}
		return resp, err
	}
}

// countSettled adds messages the processor is done with.
func (st *Stats) countSettled(n int) { st.settled.Add(int64(n)) }

// requeueCount is the context key of a batch's count of messages queued
// again.
type requeueCount struct{}

// withRequeueCount gives a batch's context a count that countingRequeue
// adds to.
func withRequeueCount(ctx context.Context) (context.Context, *atomic.Int64) {
	n := &atomic.Int64{}
	return context.WithValue(ctx, requeueCount{}, n), n
}

// countingRequeue counts, per batch, the messages the processor sends back
// to the queue to wait for their platform: the event source mapping
// deletes their originals, but they are not done with.
type countingRequeue struct {
	inner processorhandler.Requeue
}

func (c countingRequeue) Requeue(ctx context.Context, msgs []queue.Delayed) ([]string, error) {
	failed, err := c.inner.Requeue(ctx, msgs)
	if n, ok := ctx.Value(requeueCount{}).(*atomic.Int64); ok {
		n.Add(int64(len(msgs) - len(failed)))
	}
	return failed, err
}

// Snapshot returns the counts so far.
func (st *Stats) Snapshot() Snapshot {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := Snapshot{DynamoDBByOperation: map[string]int64{}, ProcessorBatches: st.batches.Load(), ProcessorMessages: st.messages.Load(),
		ProcessorFailed: st.failed.Load(), ProcessorSettled: st.settled.Load()}
	for op, n := range st.dynamodb {
		s.DynamoDBByOperation[op] = n
		s.DynamoDBRequests += n
	}
	if st.stream != nil {
		s.EventsPublished, s.EventsInvocations = st.stream.published.Load(), st.stream.invocations.Load()
		s.EventsBusySeconds = float64(st.stream.busy.Load()) / 1e9
	}
	if st.sink != nil {
		s.PutEventsRequests, s.PutEventsEntries = st.sink.requests.Load(), st.sink.entries.Load()
	}
	return s
}

func (st *Stats) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st.Snapshot())
}

// FetchStats reads GET /_local/stats of the local stack at apiURL.
func FetchStats(ctx context.Context, apiURL string) (Snapshot, error) {
	var st Snapshot
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiURL+"/_local/stats", nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("local stats: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}
