package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// fakeAPI accepts entries, except that it reports the detail types in
// failFirst failed the first failFirst[type] times they are sent, and
// answers whole calls with callErr while it is set.
type fakeAPI struct {
	calls     [][]types.PutEventsRequestEntry
	failFirst map[string]int
	callErr   error
	accepted  []string
}

func (f *fakeAPI) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.calls = append(f.calls, in.Entries)
	if f.callErr != nil {
		return nil, f.callErr
	}
	out := &eventbridge.PutEventsOutput{}
	for i, e := range in.Entries {
		dt := aws.ToString(e.DetailType)
		if f.failFirst[dt] > 0 {
			f.failFirst[dt]--
			out.FailedEntryCount++
			out.Entries = append(out.Entries, types.PutEventsResultEntry{ErrorCode: aws.String("ThrottlingException"), ErrorMessage: aws.String("Rate exceeded")})
			continue
		}
		f.accepted = append(f.accepted, dt)
		out.Entries = append(out.Entries, types.PutEventsResultEntry{EventId: aws.String(fmt.Sprint(i))})
	}
	return out, nil
}

func eventsOf(n int) []Event {
	out := make([]Event, n)
	for i := range out {
		out[i] = Event{DetailType: fmt.Sprintf("t%d", i), Detail: []byte(`{}`), Time: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)}
	}
	return out
}

// TestEventsGoInCallsOfTenAndFailedEntriesAreSentAgain: 25 events take 3
// calls; the entries a call reports failed are sent again, alone, after a
// backoff that doubles, until the bus accepts them.
func TestEventsGoInCallsOfTenAndFailedEntriesAreSentAgain(t *testing.T) {
	api := &fakeAPI{failFirst: map[string]int{"t3": 1, "t17": 2}}
	var waits []time.Duration
	p := &Publisher{Client: api, BusName: "rewards", Source: "rewardrelay", Backoff: 100 * time.Millisecond,
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }, Rand: func() float64 { return 1 }}
	errs, st := p.Publish(t.Context(), eventsOf(25))
	for i, err := range errs {
		if err != nil {
			t.Errorf("event %d: %v", i, err)
		}
	}
	sizes := []int{}
	for _, c := range api.calls {
		sizes = append(sizes, len(c))
		for _, e := range c {
			if aws.ToString(e.EventBusName) != "rewards" || aws.ToString(e.Source) != "rewardrelay" {
				t.Errorf("entry on bus %q from %q", aws.ToString(e.EventBusName), aws.ToString(e.Source))
			}
		}
	}
	if fmt.Sprint(sizes) != "[10 10 5 2 1]" {
		t.Errorf("call sizes %v, want [10 10 5 2 1]", sizes)
	}
	if fmt.Sprint(waits) != "[100ms 200ms]" {
		t.Errorf("waits %v, want [100ms 200ms]", waits)
	}
	if st.Requests != 5 || st.Retried != 3 || len(api.accepted) != 25 {
		t.Errorf("stats %+v, %d accepted; want 5 requests, 3 entries retried, 25 accepted", st, len(api.accepted))
	}
}

// TestAnEntryRefusedEveryTimeIsReportedAlone: after its attempts, the
// entry the bus keeps refusing is reported; the others are published.
func TestAnEntryRefusedEveryTimeIsReportedAlone(t *testing.T) {
	api := &fakeAPI{failFirst: map[string]int{"t1": 100}}
	p := &Publisher{Client: api, Attempts: 3, Sleep: func(context.Context, time.Duration) error { return nil }}
	errs, st := p.Publish(t.Context(), eventsOf(3))
	if !errors.Is(errs[1], ErrRejected) || errs[0] != nil || errs[2] != nil {
		t.Errorf("errors %v, want event 1 rejected alone", errs)
	}
	if st.Requests != 3 {
		t.Errorf("%d requests, want 3 (the attempts)", st.Requests)
	}
}

// TestACallThatFailsWholeFailsItsEntries: a call the API refuses (after the
// SDK's own retries) fails every entry it carried.
func TestACallThatFailsWholeFailsItsEntries(t *testing.T) {
	api := &fakeAPI{callErr: errors.New("connection refused")}
	p := &Publisher{Client: api, Attempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }}
	errs, _ := p.Publish(t.Context(), eventsOf(12))
	for i, err := range errs {
		if err == nil {
			t.Errorf("event %d published through a failing API", i)
		}
	}
	if len(api.calls) != 4 {
		t.Errorf("%d calls, want 2 per attempt", len(api.calls))
	}
}

// TestCallsStayUnder256KilobytesAndAnOversizedEntryIsNeverSent: entries are
// grouped by EventBridge's entry size as well as by count, in order, and an
// entry no call can carry fails alone without a request.
func TestCallsStayUnder256KilobytesAndAnOversizedEntryIsNeverSent(t *testing.T) {
	api := &fakeAPI{}
	p := &Publisher{Client: api, Source: "rewardrelay", Sleep: func(context.Context, time.Duration) error { return nil }}
	big := func(dt string, n int) Event {
		return Event{DetailType: dt, Detail: []byte(`"` + strings.Repeat("x", n) + `"`), Time: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)}
	}
	events := []Event{big("a", 100_000), big("b", 100_000), big("c", 100_000), big("huge", MaxRequestSize), big("d", 10), big("e", 10)}
	errs, st := p.Publish(t.Context(), events)
	for i, err := range errs {
		if (i == 3) != (err != nil) {
			t.Errorf("event %d (%s): %v", i, events[i].DetailType, err)
		}
	}
	if !errors.Is(errs[3], ErrTooLarge) {
		t.Errorf("the oversized entry: %v, want ErrTooLarge", errs[3])
	}
	var got [][]string
	for _, c := range api.calls {
		size, names := 0, []string{}
		for _, e := range c {
			size += 14 + len(aws.ToString(e.Source)) + len(aws.ToString(e.DetailType)) + len(aws.ToString(e.Detail))
			names = append(names, aws.ToString(e.DetailType))
		}
		if size >= MaxRequestSize {
			t.Errorf("a call of %d bytes of entries (%v): over EventBridge's 256 KB", size, names)
		}
		got = append(got, names)
	}
	if fmt.Sprint(got) != "[[a b] [c d e]]" || st.Requests != 2 {
		t.Errorf("calls %v (%d requests), want [[a b] [c d e]]", got, st.Requests)
	}
}
