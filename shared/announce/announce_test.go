package announce

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rewardrelay/rewardrelay/shared/bus"
	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

var at = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// entryJSON is one entry as a balance item's new image carries it.
type entryJSON struct {
	id, subject string
	kind        reward.EntryKind
	d           reward.Deltas
}

// record is a stream record of a balance item as Lambda hands it over
// (DynamoDB JSON), with the balances after the write and its entries.
func record(seq string, a reward.Account, after reward.Deltas, entries ...entryJSON) events.DynamoDBEventRecord {
	n := func(v int64) string { return fmt.Sprintf(`{"N":"%d"}`, v) }
	var list []string
	for _, e := range entries {
		fields := []string{fmt.Sprintf(`"id":{"S":%q}`, e.id), fmt.Sprintf(`"subject":{"S":%q}`, e.subject), fmt.Sprintf(`"kind":{"S":%q}`, e.kind), fmt.Sprintf(`"at":{"S":%q}`, at.Format(time.RFC3339Nano))}
		for name, v := range map[string]int64{"pending": e.d.Pending, "available": e.d.Available, "reversed": e.d.Reversed, "fulfilled": e.d.Fulfilled, "redeemed": e.d.Redeemed, "held": e.d.Held} {
			if v != 0 {
				fields = append(fields, fmt.Sprintf(`%q:%s`, name, n(v)))
			}
		}
		list = append(list, `{"M":{`+strings.Join(fields, ",")+`}}`)
	}
	pk := "BALANCE#" + a.String()
	image := fmt.Sprintf(`{"pk":{"S":%q},"sk":{"S":"BALANCE"},"type":{"S":"balance"},"provider":{"S":%q},"recipient":{"S":%q},"unit":{"S":%q},"currency":{"S":%q},`+
		`"pending":%s,"available":%s,"reversed":%s,"fulfilled":%s,"entries":{"L":[%s]}}`,
		pk, a.Provider, a.Recipient, a.Unit, a.Currency, n(after.Pending), n(after.Available), n(after.Reversed), n(after.Fulfilled), strings.Join(list, ","))
	if after.Redeemed != 0 || after.Held != 0 {
		image = strings.TrimSuffix(image, "}") + fmt.Sprintf(`,"redeemed":%s,"held":%s}`, n(after.Redeemed), n(after.Held))
	}
	raw := fmt.Sprintf(`{"eventID":"e%s","eventName":"MODIFY","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":"us-east-1",`+
		`"dynamodb":{"ApproximateCreationDateTime":1795089600,"Keys":{"pk":{"S":%q},"sk":{"S":"BALANCE"}},"NewImage":%s,"SequenceNumber":%q,"SizeBytes":512,"StreamViewType":"NEW_IMAGE"},`+
		`"eventSourceARN":"arn:aws:dynamodb:us-east-1:123456789012:table/ledger/stream/2026-11-20T00:00:00.000"}`, seq, pk, image, seq)
	var r events.DynamoDBEventRecord
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		panic(err)
	}
	return r
}

// published is one event as the bus received it.
type published struct {
	DetailType string
	Detail     string
	Time       time.Time
}

// fakeBus accepts every event except those whose entry id it refuses.
type fakeBus struct {
	mu     sync.Mutex
	got    []published
	refuse map[string]bool
}

func (b *fakeBus) Publish(_ context.Context, evs []bus.Event) ([]error, bus.Stats) {
	b.mu.Lock()
	defer b.mu.Unlock()
	errs := make([]error, len(evs))
	for i, e := range evs {
		var d Detail
		_ = json.Unmarshal(e.Detail, &d)
		if b.refuse[d.ID] {
			errs[i] = bus.ErrRejected
			continue
		}
		b.got = append(b.got, published{e.DetailType, string(e.Detail), e.Time})
	}
	return errs, bus.Stats{Requests: (len(evs) + bus.MaxEntries - 1) / bus.MaxEntries}
}

func quiet() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

func newAnnouncer(b Bus, fp FirstPromoter) *Announcer {
	return &Announcer{Bus: b, FirstPromoter: fp, Log: quiet(), Now: func() time.Time { return at.Add(time.Second) }}
}

// schemas compiles events/schemas/*.json by detail type (their title).
func schemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	files, err := filepath.Glob("../../events/schemas/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no schema in events/schemas: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	out := map[string]*jsonschema.Schema{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := c.AddResource(f, doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		s, err := c.Compile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		title, _ := doc.(map[string]any)["title"].(string)
		out[title] = s
	}
	return out
}

// validate checks each published event against its detail type's schema.
func validate(t *testing.T, got []published) {
	t.Helper()
	byType := schemas(t)
	for _, p := range got {
		s, ok := byType[p.DetailType]
		if !ok {
			t.Errorf("no schema for detail type %q", p.DetailType)
			continue
		}
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(p.Detail))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(v); err != nil {
			t.Errorf("%s %s does not match its schema: %v", p.DetailType, p.Detail, err)
		}
	}
}

func TestEveryDetailTypeHasASchema(t *testing.T) {
	byType := schemas(t)
	for _, dt := range DetailTypes {
		if byType[dt] == nil {
			t.Errorf("detail type %q has no schema in events/schemas", dt)
		}
	}
	if len(byType) != len(DetailTypes) {
		t.Errorf("%d schemas for %d detail types", len(byType), len(DetailTypes))
	}
}

// TestEveryEntryKindIsPublishedAsItsDetailType publishes one entry of each
// kind the ledger writes, commissions', payouts' and the Rewards API's, and
// checks its detail type, amount and balance, and the event against its
// schema.
func TestEveryEntryKindIsPublishedAsItsDetailType(t *testing.T) {
	points := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a1"), Unit: reward.Cash, Currency: "usd"}
	cases := []struct {
		kind       reward.EntryKind
		subject    string
		d          reward.Deltas
		after      reward.Deltas
		detailType string
		amount     int64
	}{
		{reward.KindPending, "commission:c1", reward.Deltas{Pending: 500}, reward.Deltas{Pending: 500}, RewardPending, 500},
		{reward.KindPost, "commission:c1", reward.Deltas{Pending: -500, Available: 450}, reward.Deltas{Available: 450}, RewardPosted, 450},
		{reward.KindVoid, "commission:c1", reward.Deltas{Pending: -500}, reward.Deltas{}, RewardVoided, 500},
		{reward.KindReverse, "commission:c1", reward.Deltas{Available: -200, Reversed: 200}, reward.Deltas{Available: 250, Reversed: 200}, RewardReversed, 200},
		{reward.KindAck, "commission:c1", reward.Deltas{Fulfilled: 450}, reward.Deltas{Available: 450, Fulfilled: 450}, RewardAcknowledged, 450},
		{reward.KindUndelivered, "commission:c1", reward.Deltas{Available: -450, Pending: 450}, reward.Deltas{Pending: 450}, RewardUndelivered, 450},
		{reward.KindUnfulfilled, "commission:c1", reward.Deltas{Fulfilled: -450}, reward.Deltas{Pending: 450}, RewardUnacknowledged, 450},
		{reward.KindRedelivered, "commission:c1", reward.Deltas{Available: 450, Pending: -450}, reward.Deltas{Available: 450}, RewardPosted, 450},
		{reward.KindRedeem, "redemption:r1", reward.Deltas{Available: -100, Redeemed: 100}, reward.Deltas{Available: 350, Redeemed: 100}, RedemptionPosted, 100},
		{reward.KindRedeemHold, "redemption:r2", reward.Deltas{Available: -50, Held: 50}, reward.Deltas{Available: 300, Redeemed: 100, Held: 50}, RedemptionHeld, 50},
		{reward.KindRedeemCapture, "redemption:r2", reward.Deltas{Held: -50, Redeemed: 50}, reward.Deltas{Available: 300, Redeemed: 150}, RedemptionPosted, 50},
		{reward.KindRedeemVoid, "redemption:r3", reward.Deltas{Held: -20, Available: 20}, reward.Deltas{Available: 300, Redeemed: 150}, RedemptionVoided, 20},
		{reward.KindRedeemReverse, "redemption:r1", reward.Deltas{Redeemed: -100, Available: 100}, reward.Deltas{Available: 400, Redeemed: 50}, RedemptionReversed, 100},
		{reward.KindPayout, "payout:p1", reward.Deltas{Available: -400}, reward.Deltas{Redeemed: 50}, PayoutCompleted, 400},
		{reward.KindRefund, "payout:p1", reward.Deltas{Available: 400}, reward.Deltas{Available: 400, Redeemed: 50}, PayoutFailed, 400},
	}
	var records []events.DynamoDBEventRecord
	for i, c := range cases {
		id := fmt.Sprintf("agentref#%s#%s", c.subject, c.kind)
		records = append(records, record(fmt.Sprint(100+i), points, c.after, entryJSON{id, c.subject, c.kind, c.d}))
	}
	b := &fakeBus{}
	res := newAnnouncer(b, nil).Announce(t.Context(), records)
	if len(res.Failed) != 0 || res.Published != len(cases) {
		t.Fatalf("published %d, failed %v; want all %d", res.Published, res.Failed, len(cases))
	}
	for i, c := range cases {
		var d Detail
		if err := json.Unmarshal([]byte(b.got[i].Detail), &d); err != nil {
			t.Fatal(err)
		}
		if b.got[i].DetailType != c.detailType || d.Amount != c.amount {
			t.Errorf("%s: %s of %d, want %s of %d", c.kind, b.got[i].DetailType, d.Amount, c.detailType, c.amount)
		}
		want := Balance{c.after.Pending, c.after.Available, c.after.Reversed, c.after.Fulfilled, c.after.Redeemed, c.after.Held}
		if d.Balance != want {
			t.Errorf("%s: balance %+v, want %+v", c.kind, d.Balance, want)
		}
	}
	validate(t, b.got)
	for k := range kinds {
		found := false
		for _, c := range cases {
			found = found || c.kind == k
		}
		if !found {
			t.Errorf("kind %s is mapped but not tested", k)
		}
	}
}

// TestAnEventCarriesTheEntryAndTheBalanceAfterIt checks a whole detail: a
// write of two entries to one account (a partial refund's void and post)
// announces each with the balance right after it, from the one record.
func TestAnEventCarriesTheEntryAndTheBalanceAfterIt(t *testing.T) {
	a := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("aff_3Xp0"), Unit: reward.Cash, Currency: "usd"}
	rec := record("200", a, reward.Deltas{Available: 700},
		entryJSON{"agentref#commission:conv_1#void#700", "commission:conv_1", reward.KindVoid, reward.Deltas{Pending: -300}},
		entryJSON{"agentref#commission:conv_1#post", "commission:conv_1", reward.KindPost, reward.Deltas{Pending: -700, Available: 700}},
	)
	b := &fakeBus{}
	newAnnouncer(b, nil).Announce(t.Context(), []events.DynamoDBEventRecord{rec})
	usd := "usd"
	want := []Detail{
		{SchemaVersion: 1, ID: "agentref#commission:conv_1#void#700", Provider: "agentref", CommissionID: "conv_1", Recipient: "affiliate:aff_3Xp0", Unit: "cash", Currency: &usd,
			Amount: 300, Balance: Balance{Pending: 700}, OccurredAt: "2026-11-20T12:00:00Z"},
		{SchemaVersion: 1, ID: "agentref#commission:conv_1#post", Provider: "agentref", CommissionID: "conv_1", Recipient: "affiliate:aff_3Xp0", Unit: "cash", Currency: &usd,
			Amount: 700, Balance: Balance{Available: 700}, OccurredAt: "2026-11-20T12:00:00Z"},
	}
	var got []Detail
	for _, p := range b.got {
		var d Detail
		if err := json.Unmarshal([]byte(p.Detail), &d); err != nil {
			t.Fatal(err)
		}
		got = append(got, d)
		if !p.Time.Equal(at) {
			t.Errorf("event time %v, want the entry's %v", p.Time, at)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("details (-want +got):\n%s", diff)
	}
	if !strings.Contains(b.got[0].Detail, `"merchant_user_id":null`) {
		t.Errorf("AgentRef's detail %s: merchant_user_id should be null", b.got[0].Detail)
	}
	validate(t, b.got)
}

// fpSimulator serves FirstPromoter with promoters 1001 (cust_id set) and
// 1002 (none), and commissions whose referral has a uid (7) or not (8).
func fpSimulator(t *testing.T) (*simulator.Simulator, *firstpromoter.Client) {
	t.Helper()
	sim := simulator.New()
	sim.PutCommission(simulator.FPCommission{ID: 5, Status: "approved", Unit: "points", Amount: 500, PromoterID: 1001})
	sim.PutCommission(simulator.FPCommission{ID: 6, Status: "approved", Unit: "points", Amount: 500, PromoterID: 1002})
	sim.PutCommission(simulator.FPCommission{ID: 7, Status: "approved", Unit: "free_months", Amount: 1, PromoterID: 1001, ReferralID: 77, UID: "user_77"})
	sim.PutCommission(simulator.FPCommission{ID: 8, Status: "approved", Unit: "free_months", Amount: 1, PromoterID: 1001, ReferralID: 88})
	sim.SetCustID(1001, "cus_1001")
	srv := sim.Start()
	t.Cleanup(srv.Close)
	return sim, &firstpromoter.Client{BaseURL: simulator.FirstPromoterURL(srv.URL), APIKey: sim.APIKey, AccountID: sim.AccountID, HTTP: srv.Client(), MaxAttempts: 1}
}

func fpRecords() []events.DynamoDBEventRecord {
	acct := func(r reward.Recipient, u reward.Unit) reward.Account {
		return reward.Account{Provider: reward.FirstPromoter, Recipient: r, Unit: u}
	}
	post := func(c string, amount int64) entryJSON {
		return entryJSON{"firstpromoter#commission:" + c + "#post", "commission:" + c, reward.KindPost, reward.Deltas{Available: amount}}
	}
	return []events.DynamoDBEventRecord{
		record("301", acct(reward.Promoter("1001"), reward.Points), reward.Deltas{Available: 500}, post("5", 500)),
		record("302", acct(reward.Promoter("1002"), reward.Points), reward.Deltas{Available: 500}, post("6", 500)),
		record("303", acct(reward.Referral("user_77", "77"), reward.FreeMonths), reward.Deltas{Available: 1}, post("7", 1)),
		record("304", acct(reward.Referral("", "88"), reward.FreeMonths), reward.Deltas{Available: 1}, post("8", 1)),
	}
}

// TestMerchantUserIDsComeFromThePlatformOncePerBatch: a promoter's
// cust_id, a referral's uid, null where the platform gives none; one
// promoters request (ids[]) and one commissions request for the batch, and
// none for a later batch of the same people.
func TestMerchantUserIDsComeFromThePlatformOncePerBatch(t *testing.T) {
	sim, client := fpSimulator(t)
	b := &fakeBus{}
	a := newAnnouncer(b, client)
	res := a.Announce(t.Context(), fpRecords())
	if len(res.Failed) != 0 {
		t.Fatalf("failed: %v", res.Failed)
	}
	got := map[string]*string{}
	for _, p := range b.got {
		var d Detail
		if err := json.Unmarshal([]byte(p.Detail), &d); err != nil {
			t.Fatal(err)
		}
		got[d.CommissionID] = d.MerchantUserID
	}
	str := func(s string) *string { return &s }
	want := map[string]*string{"5": str("cus_1001"), "6": nil, "7": str("user_77"), "8": nil}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merchant_user_id by commission (-want +got):\n%s", diff)
	}
	if n, m := sim.CallCount("GET /firstpromoter/api/v2/company/promoters"), sim.CallCount("GET /firstpromoter/api/v2/company/commissions"); n != 1 || m != 1 {
		t.Errorf("%d promoters and %d commissions requests, want one of each for the batch", n, m)
	}
	a.Announce(t.Context(), fpRecords())
	if n := sim.CallCount("GET /firstpromoter/api/v2/"); n != 2 {
		t.Errorf("%d platform requests after a second batch of the same people, want the first batch's 2", n)
	}
	validate(t, b.got)
}

// TestRecordsWaitWhenThePlatformCannotNameTheirPeople: while the promoters
// API fails, the records that need it fail (retried by Lambda) rather than
// publish a null that a replay would contradict; AgentRef's records, which
// need nothing of it, are published.
func TestRecordsWaitWhenThePlatformCannotNameTheirPeople(t *testing.T) {
	sim, client := fpSimulator(t)
	sim.InjectFaults(simulator.Fault{Status: 503})
	b := &fakeBus{}
	ar := record("399", reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a1"), Unit: reward.Cash, Currency: "usd"}, reward.Deltas{Pending: 5},
		entryJSON{"agentref#commission:x#pending", "commission:x", reward.KindPending, reward.Deltas{Pending: 5}})
	res := newAnnouncer(b, client).Announce(t.Context(), append(fpRecords()[:2], ar))
	if diff := cmp.Diff([]string{"301", "302"}, res.Failed); diff != "" {
		t.Errorf("failed records (-want +got):\n%s", diff)
	}
	if len(b.got) != 1 || b.got[0].DetailType != RewardPending {
		t.Errorf("published %+v, want AgentRef's pending reward alone", b.got)
	}
}

// TestReplayingStreamRecordsPublishesIdenticalEvents: the same records,
// handed over again (Lambda's retry, a redriven batch, a new cold start),
// publish the same events byte for byte.
func TestReplayingStreamRecordsPublishesIdenticalEvents(t *testing.T) {
	_, client := fpSimulator(t)
	first, second := &fakeBus{}, &fakeBus{}
	records := append(fpRecords(), record("305", reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a1"), Unit: reward.Cash, Currency: "usd"}, reward.Deltas{Available: 250, Reversed: 250},
		entryJSON{"agentref#commission:x#reverse#250", "commission:x", reward.KindReverse, reward.Deltas{Available: -250, Reversed: 250}}))
	newAnnouncer(first, client).Announce(t.Context(), records)
	a := newAnnouncer(second, client)
	a.Announce(t.Context(), records)
	a.Announce(t.Context(), records[2:])
	if len(first.got) != len(records) {
		t.Fatalf("first run published %d events, want %d", len(first.got), len(records))
	}
	if diff := cmp.Diff(first.got, second.got[:len(first.got)]); diff != "" {
		t.Errorf("replay on a new announcer (-first +replay):\n%s", diff)
	}
	if diff := cmp.Diff(first.got[2:], second.got[len(first.got):]); diff != "" {
		t.Errorf("replay on the same announcer (-first +replay):\n%s", diff)
	}
}

// TestOnlyTheRecordsWhoseEventsTheBusRefusedFail: a record fails when one of
// its events is not published; the rest of the batch is published and not
// reported.
func TestOnlyTheRecordsWhoseEventsTheBusRefusedFail(t *testing.T) {
	a := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a1"), Unit: reward.Cash, Currency: "usd"}
	records := []events.DynamoDBEventRecord{
		record("1", a, reward.Deltas{Pending: 5}, entryJSON{"agentref#commission:x#pending", "commission:x", reward.KindPending, reward.Deltas{Pending: 5}}),
		record("2", a, reward.Deltas{Available: 5}, entryJSON{"agentref#commission:x#post", "commission:x", reward.KindPost, reward.Deltas{Pending: -5, Available: 5}}),
		record("3", a, reward.Deltas{Available: 5, Fulfilled: 5}, entryJSON{"agentref#commission:x#ack", "commission:x", reward.KindAck, reward.Deltas{Fulfilled: 5}}),
	}
	b := &fakeBus{refuse: map[string]bool{"agentref#commission:x#post": true}}
	res := newAnnouncer(b, nil).Announce(t.Context(), records)
	if diff := cmp.Diff([]string{"2"}, res.Failed); diff != "" {
		t.Errorf("failed (-want +got):\n%s", diff)
	}
	if res.Published != 2 {
		t.Errorf("published %d, want 2", res.Published)
	}
}

// TestRecordsOfOtherItemsAndUnreadableOnesAreToldApart: a commission
// item's record and a removal carry no entry (skipped); a balance image
// that cannot be read fails, so that it reaches the on-failure destination
// rather than vanish; an entry kind without an event fails the same way.
func TestRecordsOfOtherItemsAndUnreadableOnesAreToldApart(t *testing.T) {
	a := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a1"), Unit: reward.Cash, Currency: "usd"}
	var commission events.DynamoDBEventRecord
	if err := json.Unmarshal([]byte(`{"eventName":"MODIFY","dynamodb":{"NewImage":{"pk":{"S":"agentref#commission:x"},"sk":{"S":"STATE"},"type":{"S":"commission"}},"SequenceNumber":"10"}}`), &commission); err != nil {
		t.Fatal(err)
	}
	removal := record("11", a, reward.Deltas{}, entryJSON{"agentref#commission:y#pending", "commission:y", reward.KindPending, reward.Deltas{Pending: 1}})
	removal.EventName = "REMOVE"
	bad := record("12", a, reward.Deltas{}, entryJSON{"agentref#commission:z#pending", "commission:z", reward.KindPending, reward.Deltas{Pending: 1}})
	bad.Change.NewImage["entries"] = events.NewStringAttribute("not a list")
	unknown := record("13", a, reward.Deltas{}, entryJSON{"agentref#commission:z#mystery", "commission:z", "mystery", reward.Deltas{Pending: 1}})
	b := &fakeBus{}
	res := newAnnouncer(b, nil).Announce(t.Context(), []events.DynamoDBEventRecord{commission, removal, bad, unknown})
	if diff := cmp.Diff([]string{"12", "13"}, res.Failed); diff != "" {
		t.Errorf("failed (-want +got):\n%s", diff)
	}
	if res.Skipped != 2 || len(b.got) != 0 {
		t.Errorf("skipped %d, published %d: want 2 skipped and nothing published", res.Skipped, len(b.got))
	}
}
