package localstack

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	eventshandler "github.com/rewardrelay/rewardrelay/functions/events/handler"
	"github.com/rewardrelay/rewardrelay/shared/announce"
	"github.com/rewardrelay/rewardrelay/shared/bus"
	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/stack"
	"github.com/rewardrelay/rewardrelay/shared/wiring"
)

// SinkEvent is one event the local bus received, a line of the stack's
// events file (rewardctl events reads it).
type SinkEvent struct {
	ID          string          `json:"id"`
	Bus         string          `json:"event_bus_name"`
	Source      string          `json:"source"`
	DetailType  string          `json:"detail_type"`
	Time        time.Time       `json:"time"`
	Detail      json.RawMessage `json:"detail"`
	PublishedAt time.Time       `json:"published_at"`
}

// Sink is the local stack's EventBridge: PutEvents appends each entry to a
// file, one JSON line each, and accepts it.
type Sink struct {
	Path string
	Now  func() time.Time

	mu       sync.Mutex
	requests atomic.Int64
	entries  atomic.Int64
}

var _ bus.API = (*Sink)(nil)

// PutEvents implements bus.API.
func (s *Sink) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	if len(in.Entries) > bus.MaxEntries {
		return nil, fmt.Errorf("PutEvents of %d entries: at most %d", len(in.Entries), bus.MaxEntries)
	}
	size := 0
	for _, e := range in.Entries {
		size += bus.EntrySize(aws.ToString(e.Source), bus.Event{DetailType: aws.ToString(e.DetailType), Detail: []byte(aws.ToString(e.Detail))})
	}
	if size >= bus.MaxRequestSize {
		return nil, fmt.Errorf("PutEvents of %d bytes of entries: less than %d", size, bus.MaxRequestSize)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(s.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := &eventbridge.PutEventsOutput{}
	var lines []byte
	for _, e := range in.Entries {
		id := newEventID()
		line, err := json.Marshal(SinkEvent{
			ID: id, Bus: aws.ToString(e.EventBusName), Source: aws.ToString(e.Source), DetailType: aws.ToString(e.DetailType),
			Time: aws.ToTime(e.Time).UTC(), Detail: json.RawMessage(aws.ToString(e.Detail)), PublishedAt: s.Now().UTC(),
		})
		if err != nil {
			return nil, err
		}
		lines = append(append(lines, line...), '\n')
		out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{EventId: aws.String(id)})
	}
	if _, err := f.Write(lines); err != nil {
		return nil, err
	}
	s.requests.Add(1)
	s.entries.Add(int64(len(in.Entries)))
	return out, nil
}

// newEventID is an id like EventBridge's: one per event put, whatever its
// detail.
func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// ReadEvents reads the events of a stack's events file, from byte offset
// from; it returns the offset after the last whole line.
func ReadEvents(path string, from int64) ([]SinkEvent, int64, error) {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, from, nil
	}
	if err != nil {
		return nil, from, err
	}
	var out []SinkEvent
	for from < int64(len(raw)) {
		end := from
		for end < int64(len(raw)) && raw[end] != '\n' {
			end++
		}
		if end == int64(len(raw)) {
			break // a line still being written
		}
		var e SinkEvent
		if err := json.Unmarshal(raw[from:end], &e); err != nil {
			return out, from, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, e)
		from = end + 1
	}
	return out, from, nil
}

// StreamHandler is a Lambda handler for DynamoDB stream events.
type StreamHandler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// streamReader is where the poller reads stream records from
// (*dynamo.StreamReader).
type streamReader interface {
	Read(ctx context.Context, limit int32) ([]events.DynamoDBEventRecord, error)
}

// streamPoller feeds the ledger table's stream to the events function the
// way Lambda's DynamoDB event source mapping does: the template's
// FilterCriteria and batch size, partial batch failures sent again (the
// failed record and those after it) until they are published or, past the
// template's MaximumRetryAttempts or MaximumRecordAgeInSeconds, described
// in the failures file (the template's on-failure queue) and skipped.
type streamPoller struct {
	reader streamReader
	source stack.StreamSource
	filter func(events.DynamoDBEventRecord) bool
	// streamARN names the stream in failure descriptions; failures is
	// the file they are appended to, one JSON line each.
	streamARN, failures string
	handler             StreamHandler
	log                 *slog.Logger
	sleep               func(ctx context.Context, d time.Duration)
	// tries counts the invocations that failed the record at the head of
	// the waiting records, headSeq.
	tries   int
	headSeq string
	// published counts the events the handler published, invocations its
	// batches and busy the time it took (for the figures).
	published, invocations, busy atomic.Int64
}

func (p *streamPoller) run(ctx context.Context) {
	var waiting []events.DynamoDBEventRecord
	var since time.Time // when the oldest waiting record was read
	for ctx.Err() == nil {
		recs, err := p.reader.Read(ctx, 1000)
		if err != nil && ctx.Err() == nil {
			p.log.Error("read the ledger table's stream", "error", err.Error())
		}
		for _, r := range recs {
			if p.filter(r) {
				if len(waiting) == 0 {
					since = time.Now()
				}
				waiting = append(waiting, r)
			}
		}
		if len(waiting) == 0 || len(waiting) < p.source.BatchSize && time.Since(since) < p.source.Window {
			p.sleep(ctx, 100*time.Millisecond)
			continue
		}
		batch := waiting[:min(p.source.BatchSize, len(waiting))]
		start := time.Now()
		resp, err := p.handler(ctx, events.DynamoDBEvent{Records: batch})
		p.invocations.Add(1)
		p.busy.Add(int64(time.Since(start)))
		// Lambda goes on from the first failed record (from the first
		// record when the function failed).
		next := len(batch)
		if err != nil {
			p.log.Error("events function returned an error; the whole batch will be retried", "error", err.Error())
			next = 0
		}
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		for i, r := range batch[:next] {
			if failed[r.Change.SequenceNumber] {
				next = i
				break
			}
		}
		waiting = waiting[next:]
		since = time.Now()
		if next == len(batch) {
			continue
		}
		if p.giveUp(batch[next:]) {
			waiting = waiting[len(batch)-next:]
			continue
		}
		p.sleep(ctx, time.Second)
	}
}

// giveUp counts a failed invocation of rest (the failed record and those
// after it in its batch) and, once the template's limits are passed,
// describes rest in the failures file as Lambda describes a batch to its
// on-failure destination: the poller then goes on after it.
func (p *streamPoller) giveUp(rest []events.DynamoDBEventRecord) bool {
	head := rest[0].Change.SequenceNumber
	if head != p.headSeq {
		p.headSeq, p.tries = head, 0
	}
	p.tries++
	condition := ""
	switch first := rest[0].Change.ApproximateCreationDateTime.Time; {
	case p.source.MaxRetries >= 0 && p.tries > p.source.MaxRetries:
		condition = "RetryAttemptsExhausted"
	case p.source.MaxRecordAge > 0 && !first.IsZero() && time.Since(first) > p.source.MaxRecordAge:
		condition = "RecordAgeExceeded"
	default:
		return false
	}
	last := rest[len(rest)-1]
	line, err := json.Marshal(map[string]any{
		"version":        "1.0",
		"timestamp":      time.Now().UTC().Format(time.RFC3339Nano),
		"requestContext": map[string]any{"condition": condition, "approximateInvokeCount": p.tries},
		"DDBStreamBatchInfo": map[string]any{
			"streamArn": p.streamARN, "batchSize": len(rest),
			"startSequenceNumber": head, "endSequenceNumber": last.Change.SequenceNumber,
			"approximateArrivalOfFirstRecord": rest[0].Change.ApproximateCreationDateTime.UTC().Format(time.RFC3339),
			"approximateArrivalOfLastRecord":  last.Change.ApproximateCreationDateTime.UTC().Format(time.RFC3339),
		},
	})
	if err == nil {
		err = appendLine(p.failures, line)
	}
	if err != nil {
		p.log.Error("events function: a failing batch could not be described; it will be retried", "error", err.Error())
		return false
	}
	p.log.Error("events function: a batch failed past the event source's limits; described in the failures file and skipped",
		"condition", condition, "tries", p.tries, "records", len(rest), "start_sequence_number", head, "failures_file", p.failures)
	p.headSeq, p.tries = "", 0
	return true
}

// appendLine appends one line to a file.
func appendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// countingAnnouncer counts what the events function published.
type countingAnnouncer struct {
	inner eventshandler.Announcer
	p     *streamPoller
}

func (c countingAnnouncer) Announce(ctx context.Context, records []events.DynamoDBEventRecord) announce.Result {
	res := c.inner.Announce(ctx, records)
	c.p.published.Add(int64(res.Published))
	return res
}

// streamPoller builds the EventsFunction's handler as its main does,
// publishing to the sink, and the event source mapping of the template.
func (s *Stack) streamPoller(ctx context.Context, sink *Sink, streams *dynamodbstreams.Client) (*streamPoller, error) {
	arn, err := dynamo.StreamARN(ctx, s.DynamoDB, s.Table)
	if err != nil {
		return nil, err
	}
	src, err := s.Template.StreamSource("EventsFunction", "Ledger")
	if err != nil {
		return nil, err
	}
	a := &announce.Announcer{
		Bus: &bus.Publisher{Client: sink, BusName: s.Prefix + "-rewards", Source: announce.Source},
		Log: s.Log, Now: time.Now,
	}
	if fp := wiring.FirstPromoter(s.Get, cmpOr(s.EventsDB, s.DynamoDB), s.Table); fp != nil {
		a.FirstPromoter = fp
	}
	p := &streamPoller{reader: &dynamo.StreamReader{Client: streams, ARN: arn}, source: src, log: s.Log, sleep: sleep,
		streamARN: arn, failures: filepath.Join(filepath.Dir(s.EventsFile), eventsFailuresName),
		filter: func(r events.DynamoDBEventRecord) bool { return matchPattern(src.Pattern, r) }}
	h := &eventshandler.Handler{Announcer: countingAnnouncer{a, p}, Log: s.Log, Now: time.Now}
	p.handler = h.Handle
	return p, nil
}

// matchPattern reports whether a record matches an event filter pattern:
// each key of the pattern must be in the record, an object matching the
// object, an array listing the record's value.
func matchPattern(pattern map[string]any, r events.DynamoDBEventRecord) bool {
	raw, err := json.Marshal(r)
	if err != nil {
		return false
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return false
	}
	return matches(pattern, doc)
}

func matches(pattern, doc map[string]any) bool {
	for k, want := range pattern {
		got, ok := doc[k]
		if !ok {
			return false
		}
		switch w := want.(type) {
		case map[string]any:
			g, ok := got.(map[string]any)
			if !ok || !matches(w, g) {
				return false
			}
		case []any:
			found := false
			for _, v := range w {
				found = found || fmt.Sprint(v) == fmt.Sprint(got)
			}
			if !found {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func cmpOr(a, b *dynamodb.Client) *dynamodb.Client {
	if a != nil {
		return a
	}
	return b
}
