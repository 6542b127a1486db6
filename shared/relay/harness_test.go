package relay

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rewardrelay/rewardrelay/shared/agentref"
	"github.com/rewardrelay/rewardrelay/shared/awstest"
	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/fake"
	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

const (
	fpSecret = "sim-fp-secret"
	arSecret = "whsec_c2ltdWxhdG9yLWFnZW50cmVmLXNlY3JldA=="
)

var t0 = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// countingDB counts DynamoDB requests and the write capacity they consumed;
// latency, when set, is added to each request (a stand-in for a network).
type countingDB struct {
	dynamo.API
	latency  time.Duration
	requests atomic.Int64
	// wcu is the write capacity consumed, in thousandths.
	wcu atomic.Int64
}

func (c *countingDB) addCapacity(cc ...types.ConsumedCapacity) {
	for _, x := range cc {
		if x.CapacityUnits != nil {
			c.wcu.Add(int64(*x.CapacityUnits * 1000))
		}
	}
}

func (c *countingDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.requests.Add(1)
	time.Sleep(c.latency)
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.API.TransactWriteItems(ctx, in, o...)
	if out != nil {
		c.addCapacity(out.ConsumedCapacity...)
	}
	return out, err
}
func (c *countingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.requests.Add(1)
	time.Sleep(c.latency)
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := c.API.PutItem(ctx, in, o...)
	if out != nil && out.ConsumedCapacity != nil {
		c.addCapacity(*out.ConsumedCapacity)
	}
	return out, err
}
func (c *countingDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.requests.Add(1)
	time.Sleep(c.latency)
	return c.API.GetItem(ctx, in, o...)
}
func (c *countingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.requests.Add(1)
	time.Sleep(c.latency)
	return c.API.UpdateItem(ctx, in, o...)
}

type harness struct {
	sim   *simulator.Simulator
	db    *countingDB
	store reward.Store
	p     *Processor
	logs  *bytes.Buffer
	seq   int
}

// newHarness wires a processor to DynamoDB Local (a fresh table from the
// template) and a platform simulator.
func newHarness(t testing.TB) *harness {
	t.Helper()
	client, table := awstest.Table(t)
	db := &countingDB{API: client}
	h := newHarnessOn(t, &dynamo.Store{Client: db, Table: table})
	h.db = db
	return h
}

// newHarnessOn wires a processor to store and a platform simulator.
func newHarnessOn(t testing.TB, store reward.Store) *harness {
	t.Helper()
	sim := simulator.New()
	srv := sim.Start()
	t.Cleanup(srv.Close)
	logs := &bytes.Buffer{}
	fp := &firstpromoter.Client{
		BaseURL: simulator.FirstPromoterURL(srv.URL), APIKey: sim.APIKey, AccountID: sim.AccountID,
		Sleep: func(context.Context, time.Duration) error { return nil },
	}
	return &harness{sim: sim, store: store, logs: logs, p: &Processor{
		Store: store, Platforms: platforms(fp), Config: DefaultConfig(), Log: telemetry.NewLogger(logs, "DEBUG"), Now: func() time.Time { return t0 },
	}}
}

// rules are the harness's FirstPromoter rules: the default units, and
// reward 99 rewards the referred customer.
func rules() firstpromoter.Rules {
	r := firstpromoter.DefaultRules()
	r.ReferralRewardIDs = map[int64]bool{99: true}
	return r
}

// FirstPromoterAPI is what the processor's FirstPromoter platform asks of
// the platform, as tests wrap it.
type FirstPromoterAPI = firstpromoter.ProcessAPI

// platforms are the processor's platforms, as the wiring builds them.
func platforms(fp FirstPromoterAPI) []reward.Platform {
	return []reward.Platform{
		&firstpromoter.Platform{API: fp, Rules: rules()},
		&agentref.Platform{Currency: agentref.DefaultCurrency},
	}
}

// fpOf is p's FirstPromoter client.
func fpOf(p *Processor) FirstPromoterAPI {
	for _, pl := range p.Platforms {
		if fp, ok := pl.(*firstpromoter.Platform); ok {
			return fp.API
		}
	}
	return nil
}

// setFP has p's FirstPromoter platform use api, on a platform of p's own:
// a copy of p made before keeps its client.
func setFP(p *Processor, api FirstPromoterAPI) {
	p.Platforms = swapped(p.Platforms, func(c *firstpromoter.Platform) { c.API = api })
}

// swapped returns a copy of ps in which each platform of type *P is a
// copy that set changed: what held ps keeps its platforms.
func swapped[T any, P any](ps []T, set func(*P)) []T {
	out := slices.Clone(ps)
	for i, pl := range out {
		if p, ok := any(pl).(*P); ok {
			c := *p
			set(&c)
			out[i] = any(&c).(T)
		}
	}
	return out
}

// fpCommission puts a commission on the platform: promoter 7, 500 points.
func (h *harness) fpCommission(id int64, status string) simulator.FPCommission {
	c := simulator.FPCommission{ID: id, Status: status, Unit: "points", Amount: 500, PromoterID: 7, RewardID: 3, CreatedAt: t0}
	h.sim.PutCommission(c)
	return c
}

// fpEvent is a queued FirstPromoter commission event for the platform's
// current commission.
func (h *harness) fpEvent(eventID, eventType string, id int64, oldStatus string) Message {
	c, _ := h.sim.Commission(id)
	d := simulator.FirstPromoterEvent(fpSecret, eventID, eventType, c, oldStatus, t0)
	h.seq++
	return Message{ID: "m-" + strconv.Itoa(h.seq), Delivery: webhook.Delivery{Provider: webhook.FirstPromoter, EventID: eventID, EventType: eventType, ReceivedAt: t0, Body: d.Body}}
}

func (h *harness) arEvent(t testing.TB, msgID, eventType string, data any) Message {
	t.Helper()
	d, err := simulator.AgentRefEvent(arSecret, msgID, eventType, data, t0)
	if err != nil {
		t.Fatal(err)
	}
	h.seq++
	return Message{ID: "m-" + strconv.Itoa(h.seq), Delivery: webhook.Delivery{Provider: webhook.AgentRef, EventID: msgID, EventType: eventType, ReceivedAt: t0, Body: d.Body}}
}

func (h *harness) balance(t testing.TB, a reward.Account) reward.Deltas {
	t.Helper()
	l, err := h.store.Ledger(context.Background())
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

var promoter7 = reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter("7"), Unit: reward.Points}

func discard() *slog.Logger { return telemetry.NewLogger(&bytes.Buffer{}, "ERROR") }

var _ = fmt.Sprint

func deliveryOf(d simulator.Delivery, eventType string) webhook.Delivery {
	return webhook.Delivery{Provider: d.Provider, EventID: d.EventID, EventType: eventType, ReceivedAt: t0, Body: d.Body}
}

// onBothStores runs test against DynamoDB Local and against the in-memory
// store, each with its own harness.
func onBothStores(t *testing.T, test func(t *testing.T, h *harness)) {
	t.Run("dynamodb", func(t *testing.T) { test(t, newHarness(t)) })
	t.Run("fake", func(t *testing.T) {
		h := newHarness(t)
		h.store = fake.NewStore()
		h.p.Store = h.store
		test(t, h)
	})
}
