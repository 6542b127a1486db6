package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rewardrelay/rewardrelay/shared/awstest"
	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/fake"
	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/queue"
	"github.com/rewardrelay/rewardrelay/shared/relay"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
	"github.com/rewardrelay/rewardrelay/shared/stack"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
	"github.com/rewardrelay/rewardrelay/shared/wiring"
)

// clock is the simulated time of an outage test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// modelQueue is an SQS standard queue with a redrive policy, on the
// simulated clock: a received message is invisible for the visibility
// timeout, a message sent with a delay is invisible for the delay, and a
// message received maxReceives times goes to the dead-letter queue instead
// of being received again.
type modelQueue struct {
	clock       *clock
	visibility  time.Duration
	maxReceives int
	mu          sync.Mutex
	seq         int
	messages    []*modelMessage
	dead        []*modelMessage
}

type modelMessage struct {
	id        string
	body      string
	attrs     map[string]types.MessageAttributeValue
	receives  int
	visibleAt time.Time
}

func (q *modelQueue) add(body *string, attrs map[string]types.MessageAttributeValue, delay int32) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	m := &modelMessage{id: "msg-" + strconv.Itoa(q.seq), body: aws.ToString(body), attrs: attrs, visibleAt: q.clock.Now().Add(time.Duration(delay) * time.Second)}
	q.messages = append(q.messages, m)
	return m.id
}

func (q *modelQueue) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return &sqs.SendMessageOutput{MessageId: aws.String(q.add(in.MessageBody, in.MessageAttributes, in.DelaySeconds))}, nil
}

func (q *modelQueue) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	if len(in.Entries) > 10 {
		return nil, fmt.Errorf("%d entries in one batch", len(in.Entries))
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		if e.DelaySeconds < 0 || e.DelaySeconds > 900 {
			return nil, fmt.Errorf("delay %d s", e.DelaySeconds)
		}
		id := q.add(e.MessageBody, e.MessageAttributes, e.DelaySeconds)
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String(id)})
	}
	return out, nil
}

// receive hands out up to n visible messages, as Lambda hands them to the
// function.
func (q *modelQueue) receive(n int) []events.SQSMessage {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	var out []events.SQSMessage
	kept := q.messages[:0]
	for _, m := range q.messages {
		if len(out) == n || m.visibleAt.After(now) {
			kept = append(kept, m)
			continue
		}
		if m.receives >= q.maxReceives {
			q.dead = append(q.dead, m)
			continue
		}
		kept = append(kept, m)
		m.receives++
		m.visibleAt = now.Add(q.visibility)
		attrs := map[string]events.SQSMessageAttribute{}
		for k, v := range m.attrs {
			attrs[k] = events.SQSMessageAttribute{DataType: aws.ToString(v.DataType), StringValue: v.StringValue}
		}
		out = append(out, events.SQSMessage{MessageId: m.id, ReceiptHandle: m.id, Body: m.body, MessageAttributes: attrs, EventSource: "aws:sqs",
			Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(m.receives)}})
	}
	q.messages = kept
	return out
}

func (q *modelQueue) delete(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.messages = slices.DeleteFunc(q.messages, func(m *modelMessage) bool { return m.id == id })
}

// next is when the next message becomes visible.
func (q *modelQueue) next() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.messages) == 0 {
		return time.Time{}, false
	}
	at := q.messages[0].visibleAt
	for _, m := range q.messages {
		if m.visibleAt.Before(at) {
			at = m.visibleAt
		}
	}
	return at, true
}

// deadEvents are the event ids in the dead-letter queue.
func (q *modelQueue) deadEvents() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var ids []string
	for _, m := range q.dead {
		ids = append(ids, aws.ToString(m.attrs[queue.AttrEventID].StringValue))
	}
	slices.Sort(ids)
	return ids
}

// arrival is a webhook the webhook function queues at a simulated time.
type arrival struct {
	at time.Time
	d  webhook.Delivery
}

// outage is the processor behind a model of the deployed queue (the
// template's visibility timeout, receive limit and batch size) on a
// simulated clock, fed by the webhook function's sender, with FirstPromoter
// unreachable until recovery.
type outage struct {
	clock    *clock
	q        *modelQueue
	sender   *queue.Sender
	h        Handler
	sim      *simulator.Simulator
	store    reward.Store
	batch    int
	recovery time.Time
}

func newOutage(t *testing.T, store reward.Store, start time.Time, down time.Duration) *outage {
	t.Helper()
	tpl, err := stack.Load("../../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := tpl.QueueAttributes("EventQueue", func(string) (string, bool) { return "arn:dlq", true })
	if err != nil {
		t.Fatal(err)
	}
	var redrive struct {
		MaxReceiveCount int `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(attrs["RedrivePolicy"]), &redrive); err != nil {
		t.Fatal(err)
	}
	visibility, err := strconv.Atoi(attrs["VisibilityTimeout"])
	if err != nil {
		t.Fatal(err)
	}
	batch, err := strconv.Atoi(fmt.Sprint(tpl.Parameters["ProcessorBatchSize"].Default))
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: start}
	q := &modelQueue{clock: c, visibility: time.Duration(visibility) * time.Second, maxReceives: redrive.MaxReceiveCount}
	sim := simulator.New()
	srv := sim.Start()
	t.Cleanup(srv.Close)
	recovery := start.Add(down)
	sim.Flaky = func() bool { return c.Now().Before(recovery) }
	fp := &firstpromoter.Client{BaseURL: simulator.FirstPromoterURL(srv.URL), APIKey: sim.APIKey, AccountID: sim.AccountID,
		Sleep: func(context.Context, time.Duration) error { return nil }}
	log := telemetry.NewLogger(&bytes.Buffer{}, "ERROR")
	p := &relay.Processor{Store: store, Platforms: wiring.Platforms(firstpromoter.DefaultRules(), fp), Config: relay.DefaultConfig(), Log: log, Now: c.Now}
	return &outage{clock: c, q: q, sender: &queue.Sender{Client: q, URL: "event-queue"}, sim: sim, store: store, batch: batch, recovery: recovery,
		h: Handler{Processor: p, Queue: &queue.Requeuer{Client: q, URL: "event-queue"}, Log: log, Now: c.Now}}
}

// run feeds the arrivals to the queue at their time and the queue to the
// handler, as the event source mapping does, moving the clock to the next
// arrival or visible message whenever nothing is visible, until the queue
// is empty.
func (o *outage) run(t *testing.T, arrivals []arrival) {
	t.Helper()
	limit := o.clock.Now().Add(7 * 24 * time.Hour)
	for {
		for len(arrivals) > 0 && !arrivals[0].at.After(o.clock.Now()) {
			d := arrivals[0].d
			d.ReceivedAt = o.clock.Now()
			if err := o.sender.Send(t.Context(), d); err != nil {
				t.Fatal(err)
			}
			arrivals = arrivals[1:]
		}
		next, ok := o.q.next()
		if len(arrivals) > 0 && (!ok || arrivals[0].at.Before(next)) {
			next, ok = arrivals[0].at, true
		}
		if !ok {
			return
		}
		if next.After(limit) {
			t.Fatalf("the queue still holds messages at %s", next)
		}
		if next.After(o.clock.Now()) {
			o.clock.set(next)
		}
		msgs := o.q.receive(o.batch)
		if len(msgs) == 0 {
			continue
		}
		resp, err := o.h.Handle(t.Context(), events.SQSEvent{Records: msgs})
		if err != nil {
			continue // the whole batch is retried
		}
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		for _, m := range msgs {
			if !failed[m.MessageId] {
				o.q.delete(m.MessageId)
			}
		}
	}
}

func (o *outage) fpDelivery(eventID, eventType string, c simulator.FPCommission, oldStatus string) webhook.Delivery {
	d := simulator.FirstPromoterEvent("secret", eventID, eventType, c, oldStatus, o.clock.Now())
	return webhook.Delivery{Provider: webhook.FirstPromoter, EventID: eventID, EventType: eventType, Body: d.Body}
}

func (o *outage) commission(t *testing.T, id int64) reward.Commission {
	t.Helper()
	c, err := o.store.Commission(t.Context(), reward.FirstPromoter, strconv.FormatInt(id, 10))
	if err != nil {
		t.Fatalf("commission %d: %v", id, err)
	}
	return c
}

// outageStores are the two ledger stores every outage runs against.
func outageStores(t *testing.T, test func(t *testing.T, store reward.Store)) {
	t.Run("dynamodb", func(t *testing.T) {
		client, table := awstest.Table(t)
		test(t, &dynamo.Store{Client: client, Table: table})
	})
	t.Run("fake", func(t *testing.T) { test(t, fake.NewStore()) })
}

// scenario puts commissions on the platform and the ledger before an
// outage, and returns the webhooks of the outage: a deletion and two
// denials the ledger can apply alone, a creation and an approval only the
// platform can tell about, an AgentRef conversion, and a poison message.
func (o *outage) scenario(t *testing.T) []arrival {
	t.Helper()
	o.sim.Flaky = nil
	fpc := func(id int64, status string) simulator.FPCommission {
		c := simulator.FPCommission{ID: id, Status: status, Unit: "points", Amount: 500, PromoterID: 7, RewardID: 3, CreatedAt: o.clock.Now()}
		o.sim.PutCommission(c)
		return c
	}
	start := o.clock.Now()
	before := []arrival{
		{start, o.fpDelivery("c1", "commission.created", fpc(1, "pending"), "")},
		{start, o.fpDelivery("a2", "commission.updated", fpc(2, "approved"), "pending")},
		{start, o.fpDelivery("c5", "commission.created", fpc(5, "pending"), "")},
	}
	o.run(t, before)
	if got := o.q.deadEvents(); len(got) != 0 {
		t.Fatalf("dead-lettered before the outage: %v", got)
	}
	recovery := o.recovery
	o.sim.Flaky = func() bool { return o.clock.Now().Before(recovery) }
	at := func(d time.Duration) time.Time { return start.Add(d) }
	deleted := simulator.FPCommission{ID: 1, Status: "pending", Unit: "points", Amount: 500, CreatedAt: start}
	o.sim.SetStatus(2, "denied")
	c2, _ := o.sim.Commission(2)
	o.sim.SetStatus(5, "denied")
	c5, _ := o.sim.Commission(5)
	conv, err := simulator.AgentRefEvent("whsec_c2ltdWxhdG9yLWFnZW50cmVmLXNlY3JldA==", "msg_1", "conversion.created",
		map[string]any{"id": "conv_1", "affiliateId": "aff_1", "amount": 10000, "currency": "usd", "commissionAmount": 2000, "status": "pending"}, start)
	if err != nil {
		t.Fatal(err)
	}
	return []arrival{
		{at(time.Minute), o.fpDelivery("d1", "commission.deleted", deleted, "")},
		{at(time.Minute), o.fpDelivery("c3", "commission.created", fpc(3, "pending"), "")},
		{at(2 * time.Minute), webhook.Delivery{Provider: webhook.FirstPromoter, EventID: "poison", EventType: "commission.updated",
			Body: []byte(`{"event_id":"poison","event_type":"commission.updated","data":{"id":"not-a-number"}}`)}},
		{at(time.Hour), o.fpDelivery("a4", "commission.updated", fpc(4, "approved"), "pending")},
		{at(2 * time.Hour), o.fpDelivery("n2", "commission.updated", c2, "approved")},
		{at(3 * time.Hour), o.fpDelivery("n5", "commission.denied", c5, "")},
		{at(3 * time.Hour), webhook.Delivery{Provider: webhook.AgentRef, EventID: "msg_1", EventType: "conversion.created", Body: conv.Body}},
	}
}

var promoter7 = reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter("7"), Unit: reward.Points}

func balance(t *testing.T, store reward.Store, a reward.Account) reward.Deltas {
	t.Helper()
	l, err := store.Ledger(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v := l.Audit(); len(v) > 0 {
		t.Errorf("audit: %v", v)
	}
	for _, b := range l.Balances {
		if b.Account == a {
			return b.Deltas
		}
	}
	return reward.Deltas{}
}

// TestAnOutageOfHoursDeadLettersNothingValid: FirstPromoter's API is down
// for 6 hours, far longer than the 5 receives of the queue's visibility
// timeout (15 minutes). Deletions and denials of commissions the ledger has
// apply during the outage; everything else waits and applies once the
// platform is back; only the poison message reaches the dead-letter queue.
func TestAnOutageOfHoursDeadLettersNothingValid(t *testing.T) {
	outageStores(t, func(t *testing.T, store reward.Store) {
		start := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
		o := newOutage(t, store, start, 6*time.Hour)
		if o.q.maxReceives*int(o.q.visibility/time.Second) > int((6 * time.Hour).Seconds()) {
			t.Fatalf("the outage is no longer than the queue's own retries")
		}
		o.run(t, o.scenario(t))

		if diff := cmp.Diff([]string{"poison"}, o.q.deadEvents()); diff != "" {
			t.Errorf("dead-lettered event ids (-want +got):\n%s", diff)
		}
		for _, id := range []int64{1, 2, 5} {
			if c := o.commission(t, id); c.UpdatedAt.After(o.recovery) || (c.Status != reward.Denied && c.Status != reward.Reversed) {
				t.Errorf("commission %d: %s at %s; want denied during the outage (it ended at %s)", id, c.Status, c.UpdatedAt, o.recovery)
			}
		}
		if c := o.commission(t, 4); c.Status != reward.Approved || c.Fulfilment != reward.Acknowledged {
			t.Errorf("commission 4: %s, fulfilment %s; want delivered and acknowledged after the outage", c.Status, c.Fulfilment)
		}
		if b := balance(t, store, promoter7); b != (reward.Deltas{Pending: 500, Available: 500, Reversed: 500, Fulfilled: 1000}) {
			t.Errorf("promoter 7: %+v, want 3 pending, 4 delivered, 2 reversed, 1 and 5 voided", b)
		}
		aff := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("aff_1"), Unit: reward.Cash, Currency: "usd"}
		if b := balance(t, store, aff); b != (reward.Deltas{Pending: 2000}) {
			t.Errorf("aff_1: %+v", b)
		}
	})
}

// TestAnOutageLongerThanTheWaitEndsInTheDeadLetterQueue: past
// Config.PlatformWait a delivery stops waiting and fails like any other, so
// an endless outage cannot keep messages circling forever.
func TestAnOutageLongerThanTheWaitEndsInTheDeadLetterQueue(t *testing.T) {
	store := fake.NewStore()
	start := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	o := newOutage(t, store, start, 3*24*time.Hour)
	o.run(t, o.scenario(t))
	if diff := cmp.Diff([]string{"a4", "c3", "poison"}, o.q.deadEvents()); diff != "" {
		t.Errorf("dead-lettered event ids (-want +got):\n%s", diff)
	}
	if c := o.commission(t, 1); c.Status != reward.Denied {
		t.Errorf("commission 1: %s, want the deletion applied", c.Status)
	}
}

// recordingQueue is a Requeue that keeps what it was given and fails the
// ids in fail.
type recordingQueue struct {
	got  []queue.Delayed
	fail map[string]bool
}

func (r *recordingQueue) Requeue(_ context.Context, msgs []queue.Delayed) ([]string, error) {
	r.got = append(r.got, msgs...)
	var failed []string
	for _, m := range msgs {
		if r.fail[m.Message.MessageId] {
			failed = append(failed, m.Message.MessageId)
		}
	}
	if len(failed) > 0 {
		return failed, fmt.Errorf("%d not sent", len(failed))
	}
	return nil, nil
}

// unreachable is FirstPromoter's API during an outage.
type unreachable struct{}

func (unreachable) Commissions(context.Context, []int64) ([]firstpromoter.Commission, error) {
	return nil, firstpromoter.ErrUnavailable
}

func (unreachable) MarkFulfilled(context.Context, []int64) (firstpromoter.BatchResult, error) {
	return firstpromoter.BatchResult{}, firstpromoter.ErrUnavailable
}

func (unreachable) Standings(context.Context, []int64) (map[int64]firstpromoter.Standing, error) {
	return nil, firstpromoter.ErrUnavailable
}

func TestMessagesWaitingForThePlatformAreQueuedAgainNotFailed(t *testing.T) {
	created := `{"event_id":"e1","event_type":"commission.created","data":{"id":5,"status":"pending","amount":5,"unit":"points"}}`
	ev := events.SQSEvent{Records: []events.SQSMessage{
		message("fp-1", "firstpromoter", "e1", "commission.created", created),
		message("fp-2", "firstpromoter", "e2", "commission.created", strings.ReplaceAll(strings.ReplaceAll(created, "e1", "e2"), `"id":5`, `"id":6`)),
		message("ar-1", "agentref", "msg_1", "conversion.created", conversion),
	}}
	for _, tt := range []struct {
		name       string
		queue      *recordingQueue
		wantFailed []string
	}{
		{"queued again", &recordingQueue{}, nil},
		{"a copy not sent stays on the queue", &recordingQueue{fail: map[string]bool{"fp-2": true}}, []string{"fp-2"}},
		{"no queue to wait in", nil, []string{"fp-1", "fp-2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(fake.NewStore(), &bytes.Buffer{})
			h.Processor.(*relay.Processor).Platforms = wiring.Platforms(firstpromoter.DefaultRules(), unreachable{})
			if tt.queue != nil {
				h.Queue = tt.queue
			}
			resp, err := h.Handle(t.Context(), ev)
			if err != nil {
				t.Fatal(err)
			}
			var failed []string
			for _, f := range resp.BatchItemFailures {
				failed = append(failed, f.ItemIdentifier)
			}
			if diff := cmp.Diff(tt.wantFailed, failed); diff != "" {
				t.Errorf("batch item failures (-want +got):\n%s", diff)
			}
			if tt.queue == nil {
				return
			}
			want := []queue.Delayed{{Message: ev.Records[0], Delay: time.Minute}, {Message: ev.Records[1], Delay: time.Minute}}
			sortDelayed := cmp.Transformer("sort", func(in []queue.Delayed) []queue.Delayed {
				out := slices.Clone(in)
				slices.SortFunc(out, func(a, b queue.Delayed) int { return strings.Compare(a.Message.MessageId, b.Message.MessageId) })
				return out
			})
			if diff := cmp.Diff(want, tt.queue.got, sortDelayed); diff != "" {
				t.Errorf("queued again (-want +got):\n%s", diff)
			}
		})
	}
}
