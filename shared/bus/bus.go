// Package bus publishes events on an EventBridge bus: PutEvents calls of at
// most 10 entries and less than 256 KB, the entries a call reports failed
// sent again with jittered backoff, and which events could not be published
// said per event.
package bus

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// MaxEntries is the most entries one PutEvents call takes.
const MaxEntries = 10

// MaxRequestSize bounds one PutEvents call: its entries' sizes (EntrySize)
// must add up to less than 256 KB.
const MaxRequestSize = 256 * 1024

// EntrySize is the size EventBridge counts for an event's entry: 14 bytes
// for the time, and the UTF-8 bytes of the source, detail type and detail.
func EntrySize(source string, e Event) int {
	return 14 + len(source) + len(e.DetailType) + len(e.Detail)
}

// API is the part of the EventBridge client the publisher uses.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Event is one event to publish.
type Event struct {
	DetailType string
	Detail     []byte
	Time       time.Time
}

// Publisher publishes events from Source on the bus BusName.
type Publisher struct {
	Client  API
	BusName string
	Source  string
	// Attempts is how many times an entry is sent at most (default 5);
	// Backoff the first retry's longest wait (default 100 ms), doubled
	// for each retry after it, each wait a random part of it.
	Attempts int
	Backoff  time.Duration
	// Sleep waits between attempts (nil: a timer that ctx cuts short).
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand draws the jitter in [0, 1) (nil: math/rand/v2).
	Rand func() float64
}

// ErrRejected means EventBridge refused an entry every time it was sent.
var ErrRejected = errors.New("bus: entry not accepted")

// ErrTooLarge means an event's entry is too large for any PutEvents call:
// it is never sent.
var ErrTooLarge = errors.New("bus: entry too large for PutEvents")

// Stats counts what one Publish did.
type Stats struct {
	Requests int // PutEvents calls
	Retried  int // entries sent again
}

// Publish sends events in calls of at most MaxEntries and less than
// MaxRequestSize, in order, and returns, in the order of events, nil for
// each event EventBridge accepted and why for each it did not after every
// attempt.
func (p *Publisher) Publish(ctx context.Context, events []Event) ([]error, Stats) {
	errs := make([]error, len(events))
	var st Stats
	attempts, backoff := p.Attempts, p.Backoff
	if attempts <= 0 {
		attempts = 5
	}
	if backoff <= 0 {
		backoff = 100 * time.Millisecond
	}
	pending := make([]int, 0, len(events))
	for i, e := range events {
		if size := EntrySize(p.Source, e); size >= MaxRequestSize {
			errs[i] = fmt.Errorf("%s entry of %d bytes: %w", e.DetailType, size, ErrTooLarge)
			continue
		}
		pending = append(pending, i)
	}
	for attempt := 1; len(pending) > 0; attempt++ {
		var failed []int
		for _, chunk := range p.chunks(events, pending) {
			st.Requests++
			failed = append(failed, p.put(ctx, events, chunk, errs)...)
		}
		if len(failed) == 0 || attempt == attempts {
			break
		}
		st.Retried += len(failed)
		if err := p.sleep(ctx, p.jitter(backoff<<(attempt-1))); err != nil {
			for _, i := range failed {
				errs[i] = fmt.Errorf("%w (%w)", errs[i], err)
			}
			break
		}
		pending = failed
	}
	return errs, st
}

// chunks splits pending, in order, into calls of at most MaxEntries whose
// entries add up to less than MaxRequestSize.
func (p *Publisher) chunks(events []Event, pending []int) [][]int {
	var out [][]int
	start, size := 0, 0
	for k, i := range pending {
		n := EntrySize(p.Source, events[i])
		if k > start && (k-start == MaxEntries || size+n >= MaxRequestSize) {
			out = append(out, pending[start:k])
			start, size = k, 0
		}
		size += n
	}
	if start < len(pending) {
		out = append(out, pending[start:])
	}
	return out
}

// put sends one call and returns the entries of chunk that failed, their
// reasons in errs (and nil for those accepted).
func (p *Publisher) put(ctx context.Context, events []Event, chunk []int, errs []error) []int {
	in := &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, len(chunk))}
	for k, i := range chunk {
		e := events[i]
		in.Entries[k] = types.PutEventsRequestEntry{
			EventBusName: aws.String(p.BusName), Source: aws.String(p.Source),
			DetailType: aws.String(e.DetailType), Detail: aws.String(string(e.Detail)), Time: aws.Time(e.Time),
		}
	}
	out, err := p.Client.PutEvents(ctx, in)
	if err == nil && len(out.Entries) != len(chunk) {
		err = fmt.Errorf("PutEvents answered %d entries for %d", len(out.Entries), len(chunk))
	}
	if err != nil {
		for _, i := range chunk {
			errs[i] = fmt.Errorf("put events: %w", err)
		}
		return chunk
	}
	var failed []int
	for k, i := range chunk {
		r := out.Entries[k]
		if r.ErrorCode == nil && r.EventId != nil {
			errs[i] = nil
			continue
		}
		errs[i] = fmt.Errorf("put events: %s: %s: %w", aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage), ErrRejected)
		failed = append(failed, i)
	}
	return failed
}

func (p *Publisher) jitter(d time.Duration) time.Duration {
	r := rand.Float64
	if p.Rand != nil {
		r = p.Rand
	}
	return time.Duration(r() * float64(d))
}

func (p *Publisher) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
