package dynamo

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rewardrelay/rewardrelay/shared/awstest"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// streamedStore is a store on a new table and a reader of its stream.
func streamedStore(t *testing.T) (*Store, *StreamReader) {
	t.Helper()
	client, table := awstest.Table(t)
	arn, err := StreamARN(t.Context(), client, table)
	if err != nil {
		t.Fatal(err)
	}
	return &Store{Client: client, Table: table}, &StreamReader{Client: awstest.Streams(t), ARN: arn}
}

// readStream reads every record of the table's stream written so far.
func readStream(t *testing.T, r *StreamReader) []events.DynamoDBEventRecord {
	t.Helper()
	var out []events.DynamoDBEventRecord
	for range 3 {
		recs, err := r.Read(t.Context(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, recs...)
	}
	return out
}

// TestTheBalanceStreamCarriesEachEntryWithTheBalanceAfterIt writes a
// commission's life through the store (a pending credit, a move to another
// recipient, an approval, a partial refund) and reads DynamoDB Local's stream: the balance
// items' records announce every entry once, with the account's balances
// right after it, and no other item's record reads as ledger entries.
func TestTheBalanceStreamCarriesEachEntryWithTheBalanceAfterIt(t *testing.T) {
	s, reader := streamedStore(t)
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	first := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a1"), Unit: reward.Cash, Currency: "usd"}
	second := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a2"), Unit: reward.Cash, Currency: "usd"}

	var cur *reward.Commission
	apply := func(in reward.Intent) {
		t.Helper()
		in.Provider, in.CommissionID, in.At = reward.AgentRef, "conv_1", at
		c, err := reward.Plan(cur, in)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(t.Context(), reward.EventRecord{}, c); err != nil {
			t.Fatal(err)
		}
		after := c.After
		cur = &after
	}
	apply(reward.Intent{Target: reward.TargetPending, Account: first, Amount: 1000})
	apply(reward.Intent{Target: reward.TargetPending, Account: second, Amount: 1000})
	apply(reward.Intent{Target: reward.TargetApproved, Account: second, Amount: 1000})
	apply(reward.Intent{Target: reward.TargetRefunded, Account: second, Amount: 600})

	var got []reward.Booked
	others := 0
	for _, rec := range readStream(t, reader) {
		booked, err := Booked(rec.Change.NewImage)
		if errors.Is(err, ErrNotLedger) {
			others++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, booked...)
	}
	entry := func(id string, a reward.Account, kind reward.EntryKind, d reward.Deltas) reward.Entry {
		return reward.Entry{ID: id, Account: a, Subject: "commission:conv_1", Kind: kind, Deltas: d, At: at}
	}
	want := []reward.Booked{
		{Entry: entry("agentref#commission:conv_1#pending", first, reward.KindPending, reward.Deltas{Pending: 1000}), After: reward.Deltas{Pending: 1000}},
		{Entry: entry("agentref#commission:conv_1#move#1#void", first, reward.KindVoid, reward.Deltas{Pending: -1000}), After: reward.Deltas{}},
		{Entry: entry("agentref#commission:conv_1#move#1#pending", second, reward.KindPending, reward.Deltas{Pending: 1000}), After: reward.Deltas{Pending: 1000}},
		{Entry: entry("agentref#commission:conv_1#post", second, reward.KindPost, reward.Deltas{Pending: -1000, Available: 1000}), After: reward.Deltas{Available: 1000}},
		{Entry: entry("agentref#commission:conv_1#reverse#600", second, reward.KindReverse, reward.Deltas{Available: -400, Reversed: 400}), After: reward.Deltas{Available: 600, Reversed: 400}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("booked entries from the stream (-want +got):\n%s", diff)
	}
	if others == 0 {
		t.Error("no record of another item was read: the stream should carry the commission and entry items too")
	}
}

// TestOneWriteOfTwoEntriesToOneAccountBooksEachWithItsOwnBalance: a
// partial refund of a pending commission voids part of it and posts the
// rest in one write to one balance item; each entry's balance is the one
// right after it.
func TestOneWriteOfTwoEntriesToOneAccountBooksEachWithItsOwnBalance(t *testing.T) {
	s, reader := streamedStore(t)
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	a := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a1"), Unit: reward.Cash, Currency: "usd"}
	pending, err := reward.Plan(nil, reward.Intent{Provider: reward.AgentRef, CommissionID: "c", Target: reward.TargetPending, Account: a, Amount: 1000, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(t.Context(), reward.EventRecord{}, pending); err != nil {
		t.Fatal(err)
	}
	refund, err := reward.Plan(&pending.After, reward.Intent{Provider: reward.AgentRef, CommissionID: "c", Target: reward.TargetRefunded, Account: a, Amount: 700, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if len(refund.Entries) != 2 {
		t.Fatalf("the partial refund plans %d entries, want a void and a post", len(refund.Entries))
	}
	if err := s.Apply(t.Context(), reward.EventRecord{}, refund); err != nil {
		t.Fatal(err)
	}
	var afters []reward.Deltas
	for _, rec := range readStream(t, reader) {
		booked, err := Booked(rec.Change.NewImage)
		if errors.Is(err, ErrNotLedger) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range booked {
			afters = append(afters, b.After)
		}
	}
	want := []reward.Deltas{{Pending: 1000}, {Pending: 700}, {Available: 700}}
	if diff := cmp.Diff(want, afters); diff != "" {
		t.Errorf("balances after each entry (-want +got):\n%s", diff)
	}
}

// TestAnEventKeptOnItsCommissionAnnouncesNothing: keeping an event that
// changed nothing updates the commission item only; its stream record is
// no balance item's, so it reads as no ledger entries, and the balance
// items' records are those of the state change alone.
func TestAnEventKeptOnItsCommissionAnnouncesNothing(t *testing.T) {
	s, reader := streamedStore(t)
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	acct := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a1"), Unit: reward.Cash, Currency: "usd"}
	c, err := reward.Plan(nil, reward.Intent{Provider: reward.AgentRef, CommissionID: "conv_1", Target: reward.TargetPending, Account: acct, Amount: 1000, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(t.Context(), reward.EventRecord{Provider: reward.AgentRef, ID: "e1"}, c); err != nil {
		t.Fatal(err)
	}
	applied := len(readStream(t, reader))
	kept := reward.EventRecord{Provider: reward.AgentRef, ID: "e1b", Type: "conversion.created", CommissionID: "conv_1", ReceivedAt: at, ExpiresAt: at.Add(time.Hour)}
	if err := s.RecordEvent(t.Context(), kept); err != nil {
		t.Fatal(err)
	}
	recs := readStream(t, reader)
	if applied == 0 || len(recs) != 1 {
		t.Fatalf("%d stream records after the state change, %d after keeping an event: want some, then the commission's one", applied, len(recs))
	}
	for _, rec := range recs {
		if booked, err := Booked(rec.Change.NewImage); !errors.Is(err, ErrNotLedger) {
			t.Errorf("stream record of an event kept on its commission reads as %v, %v: want no ledger entries", booked, err)
		}
		if ty := rec.Change.NewImage["type"].String(); ty == StreamItemType {
			t.Errorf("keeping an event wrote a %s item: the events function would read it", ty)
		}
	}
}
