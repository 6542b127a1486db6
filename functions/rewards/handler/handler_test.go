package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rewardrelay/rewardrelay/shared/awstest"
	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/fake"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/rewardsapi"
)

const shop = "arn:aws:iam::123456789012:role/shop"

var start = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// api is a handler over a store, with a clock the test moves.
type api struct {
	h     Handler
	store fake.LedgerStore
	now   time.Time
	log   bytes.Buffer
}

func newAPI(t *testing.T, store fake.LedgerStore) *api {
	a := &api{store: store, now: start}
	clock := func() time.Time { return a.now }
	a.h = Handler{API: rewardsapi.API{Store: store, Now: clock}, Log: slog.New(slog.NewJSONHandler(&a.log, nil)), Now: clock}
	return a
}

// onBothStores runs a test against the in-memory store and DynamoDB Local.
func onBothStores(t *testing.T, test func(t *testing.T, a *api)) {
	t.Run("fake", func(t *testing.T) { test(t, newAPI(t, fake.NewStore())) })
	t.Run("dynamodb", func(t *testing.T) {
		client, table := awstest.Table(t)
		test(t, newAPI(t, &dynamo.Store{Client: client, Table: table}))
	})
}

// deliver credits a recipient's points as the processor does.
func (a *api) deliver(t *testing.T, recipient reward.Recipient, id string, amount int64) {
	t.Helper()
	acct := reward.Account{Provider: reward.FirstPromoter, Recipient: recipient, Unit: reward.Points}
	c, err := reward.Plan(nil, reward.Intent{Provider: reward.FirstPromoter, CommissionID: id, Target: reward.TargetApproved, Account: acct, Amount: amount, At: start})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.Apply(t.Context(), reward.EventRecord{}, c); err != nil {
		t.Fatal(err)
	}
}

type answer struct {
	status int
	header map[string]string
	body   map[string]any
	raw    string
}

// call sends a request as API Gateway routes it; path is the request's
// path, route the route key it matches, params its path parameters.
func (a *api) call(t *testing.T, route string, params map[string]string, query string, header map[string]string, body string) answer {
	t.Helper()
	if header == nil {
		header = map[string]string{}
	}
	header["content-type"] = "application/json"
	req := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: route, RawQueryString: query, Headers: header, PathParameters: params, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   route,
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: shop}},
		},
	}
	resp, err := a.h.Handle(t.Context(), req)
	if err != nil {
		t.Fatalf("Handle returned %v: API Gateway would answer a bare 502", err)
	}
	out := answer{status: resp.StatusCode, header: resp.Headers, raw: resp.Body}
	if err := json.Unmarshal([]byte(resp.Body), &out.body); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", resp.Body, err)
	}
	if resp.Headers["content-type"] != "application/json" {
		t.Errorf("content-type %q", resp.Headers["content-type"])
	}
	return out
}

func (a *api) redeem(t *testing.T, recipient, key, body string) answer {
	t.Helper()
	h := map[string]string{}
	if key != "" {
		h["idempotency-key"] = key
	}
	return a.call(t, rewardsapi.RouteRedemptions, map[string]string{"recipient": recipient}, "", h, body)
}

func (a *api) act(t *testing.T, route, id string) answer {
	t.Helper()
	return a.call(t, route, map[string]string{"id": id}, "", nil, "")
}

func want(t *testing.T, got answer, status int) {
	t.Helper()
	if got.status != status {
		t.Errorf("status %d %s, want %d", got.status, got.raw, status)
	}
}

func TestBalances(t *testing.T) {
	onBothStores(t, func(t *testing.T, a *api) {
		got := a.call(t, rewardsapi.RouteBalances, map[string]string{"recipient": "promoter:801"}, "", nil, "")
		want(t, got, 200)
		if got.raw != `{"recipient":"promoter:801","balances":[]}` {
			t.Errorf("an unknown recipient: %s", got.raw)
		}
		a.deliver(t, reward.Promoter("801"), "1", 3600)
		want(t, a.redeem(t, "promoter:801", "k1", `{"provider":"firstpromoter","unit":"points","amount":1500}`), 201)
		for _, recipient := range []string{"promoter:801", "promoter%3A801", "promoter%3a801"} {
			got = a.call(t, rewardsapi.RouteBalances, map[string]string{"recipient": recipient}, "", nil, "")
			want(t, got, 200)
			if w := `{"recipient":"promoter:801","balances":[{"provider":"firstpromoter","unit":"points","currency":"","pending":0,"available":2100,"reversed":0,"fulfilled":0,"redeemed":1500,"held":0}]}`; got.raw != w {
				t.Errorf("%s: %s, want %s", recipient, got.raw, w)
			}
		}
		for _, bad := range []string{"someone", "promoter:", "customer:1", "promoter%zz"} {
			got = a.call(t, rewardsapi.RouteBalances, map[string]string{"recipient": bad}, "", nil, "")
			if want(t, got, 400); !strings.HasPrefix(got.body["error"].(string), "recipient ") {
				t.Errorf("%s: %s does not name the recipient", bad, got.raw)
			}
		}
	})
}

func TestRedemptions(t *testing.T) {
	onBothStores(t, func(t *testing.T, a *api) {
		a.deliver(t, reward.Promoter("801"), "1", 1000)
		body := `{"provider":"firstpromoter","unit":"points","currency":"","amount":300,"reference":"order 7"}`
		got := a.redeem(t, "promoter:801", "key-1", body)
		want(t, got, 201)
		id, _ := got.body["id"].(string)
		if got.body["status"] != "posted" || got.body["amount"] != 300.0 || got.body["reference"] != "order 7" || got.body["hold_expires_at"] != nil ||
			got.body["recipient"] != "promoter:801" || got.body["created_at"] != "2026-11-20T12:00:00Z" || !strings.HasPrefix(id, "rdm_") {
			t.Errorf("redemption %s", got.raw)
		}
		if got.header["idempotent-replayed"] != "" {
			t.Error("a first request is marked replayed")
		}

		t.Run("the same key and body again replays it", func(t *testing.T) {
			a.now = start.Add(time.Minute)
			again := a.redeem(t, "promoter:801", "key-1", `{"amount":300, "reference":"order 7","unit":"points","provider":"firstpromoter"}`)
			want(t, again, 201)
			if again.body["id"] != id || again.header["idempotent-replayed"] != "true" || again.body["created_at"] != "2026-11-20T12:00:00Z" {
				t.Errorf("replay %s %v, want redemption %s replayed", again.raw, again.header, id)
			}
		})
		t.Run("the same key with another body is refused", func(t *testing.T) {
			want(t, a.redeem(t, "promoter:801", "key-1", `{"provider":"firstpromoter","unit":"points","amount":301}`), 422)
		})
		t.Run("a key is the recipient's own", func(t *testing.T) {
			a.deliver(t, reward.Promoter("802"), "2", 100)
			other := a.redeem(t, "promoter:802", "key-1", `{"provider":"firstpromoter","unit":"points","amount":100}`)
			if want(t, other, 201); other.body["id"] == id {
				t.Error("two recipients' keys name one redemption")
			}
		})
		t.Run("an amount over available is refused with it", func(t *testing.T) {
			over := a.redeem(t, "promoter:801", "key-2", `{"provider":"firstpromoter","unit":"points","amount":701}`)
			if want(t, over, 409); over.body["available"] != 700.0 {
				t.Errorf("409 %s, want available 700", over.raw)
			}
			// Nothing was stored: the same key may be used once it fits.
			want(t, a.redeem(t, "promoter:801", "key-2", `{"provider":"firstpromoter","unit":"points","amount":700}`), 201)
		})
		if b := a.call(t, rewardsapi.RouteBalances, map[string]string{"recipient": "promoter:801"}, "", nil, ""); !strings.Contains(b.raw, `"available":0,`) || !strings.Contains(b.raw, `"redeemed":1000,`) {
			t.Errorf("balances %s", b.raw)
		}
		audit(t, a)
	})
}

func TestRedemptionRequestErrorsNameTheField(t *testing.T) {
	onBothStores(t, func(t *testing.T, a *api) {
		a.deliver(t, reward.Promoter("801"), "1", 1000)
		for _, tc := range []struct{ key, body, field string }{
			{"", `{"provider":"firstpromoter","unit":"points","amount":1}`, "Idempotency-Key"},
			{"bad\x01key", `{"provider":"firstpromoter","unit":"points","amount":1}`, "Idempotency-Key"},
			{strings.Repeat("k", 256), `{"provider":"firstpromoter","unit":"points","amount":1}`, "Idempotency-Key"},
			{"k", `{"provider":"firstpromoter","unit":"points","amount":0}`, "amount"},
			{"k", `{"provider":"firstpromoter","unit":"points","amount":-5}`, "amount"},
			{"k", `{"provider":"firstpromoter","unit":"points","amount":1.5}`, "amount"},
			{"k", `{"provider":"firstpromoter","unit":"points","amount":"5"}`, "amount"},
			{"k", `{"provider":"firstpromoter","unit":"points"}`, "amount"},
			{"k", `{"provider":"shopify","unit":"points","amount":1}`, "provider"},
			{"k", `{"unit":"points","amount":1}`, "provider"},
			{"k", `{"provider":"firstpromoter","unit":"stars","amount":1}`, "unit"},
			{"k", `{"provider":"firstpromoter","amount":1}`, "unit"},
			{"k", `{"provider":"firstpromoter","unit":"points","amount":1,"reference":"` + strings.Repeat("r", 256) + `"}`, "reference"},
			{"k", `{"provider":"firstpromoter","unit":"points","amount":1,"hold":true,"hold_ttl_seconds":604801}`, "hold_ttl_seconds"},
			{"k", `{"provider":"firstpromoter","unit":"points","amount":1,"hold":true,"hold_ttl_seconds":0}`, "hold_ttl_seconds"},
			{"k", `{"provider":"firstpromoter","unit":"points","amount":1,"hold":"yes"}`, "hold"},
			{"k", `{"provider":"firstpromoter","unit":"points","amount":1,"tip":5}`, "tip"},
			{"k", `{"provider":"firstpromoter",`, "body"},
			{"k", `[1]`, "body"},
			{"k", ``, "body"},
		} {
			got := a.redeem(t, "promoter:801", tc.key, tc.body)
			msg, _ := got.body["error"].(string)
			if got.status != 400 || !strings.HasPrefix(msg, tc.field+" ") {
				t.Errorf("%q with key %q: %d %s, want 400 naming %s", tc.body, tc.key, got.status, got.raw, tc.field)
			}
		}
		audit(t, a)
	})
}

func TestHolds(t *testing.T) {
	onBothStores(t, func(t *testing.T, a *api) {
		a.deliver(t, reward.Promoter("801"), "1", 1000)
		hold := func(key string, ttl string) string {
			t.Helper()
			got := a.redeem(t, "promoter:801", key, `{"provider":"firstpromoter","unit":"points","amount":100,"hold":true`+ttl+`}`)
			want(t, got, 201)
			if got.body["status"] != "held" {
				t.Errorf("hold %s", got.raw)
			}
			return got.body["id"].(string)
		}
		h1 := hold("h1", "")
		if got := a.act(t, rewardsapi.RouteCapture, h1); got.status != 200 || got.body["status"] != "posted" || got.body["hold_expires_at"] != "2026-11-20T12:15:00Z" {
			t.Errorf("capture: %d %s", got.status, got.raw)
		}
		if got := a.act(t, rewardsapi.RouteCapture, h1); got.status != 200 || got.body["status"] != "posted" {
			t.Errorf("capture again: %d %s, want 200 posted", got.status, got.raw)
		}
		want(t, a.act(t, rewardsapi.RouteVoid, h1), 409)
		if got := a.act(t, rewardsapi.RouteReverse, h1); got.status != 200 || got.body["status"] != "reversed" {
			t.Errorf("reverse: %d %s", got.status, got.raw)
		}
		want(t, a.act(t, rewardsapi.RouteReverse, h1), 200)

		h2 := hold("h2", "")
		if got := a.act(t, rewardsapi.RouteVoid, h2); got.status != 200 || got.body["status"] != "voided" {
			t.Errorf("void: %d %s", got.status, got.raw)
		}
		if got := a.act(t, rewardsapi.RouteCapture, h2); got.status != 409 || !strings.Contains(got.body["error"].(string), "voided") {
			t.Errorf("capture a voided hold: %d %s, want 409", got.status, got.raw)
		}

		h3 := hold("h3", `,"hold_ttl_seconds":60`)
		a.now = start.Add(time.Minute)
		if got := a.act(t, rewardsapi.RouteCapture, h3); got.status != 409 || got.body["error"] != "the hold has expired" {
			t.Errorf("capture an expired hold: %d %s, want 409", got.status, got.raw)
		}
		want(t, a.act(t, rewardsapi.RouteVoid, h3), 200)

		for _, id := range []string{"rdm_00000000000000000000000000000000", "nope", strings.Repeat("x", 3000)} {
			for _, route := range []string{rewardsapi.RouteCapture, rewardsapi.RouteVoid, rewardsapi.RouteReverse} {
				want(t, a.act(t, route, id), 404)
			}
		}
		if b := a.call(t, rewardsapi.RouteBalances, map[string]string{"recipient": "promoter:801"}, "", nil, ""); !strings.Contains(b.raw, `"available":1000,`) || !strings.Contains(b.raw, `"held":0}`) {
			t.Errorf("balances %s", b.raw)
		}
		audit(t, a)
	})
}

func TestEntries(t *testing.T) {
	onBothStores(t, func(t *testing.T, a *api) {
		a.deliver(t, reward.Promoter("801"), "41", 1000)
		var ids []string
		for i := range 3 {
			a.now = start.Add(time.Duration(i+1) * time.Second)
			got := a.redeem(t, "promoter:801", fmt.Sprint(i), `{"provider":"firstpromoter","unit":"points","amount":10}`)
			ids = append([]string{got.body["id"].(string)}, ids...)
		}
		list := func(query string) answer {
			return a.call(t, rewardsapi.RouteEntries, map[string]string{"recipient": "promoter%3A801"}, query, nil, "")
		}
		got := list("")
		want(t, got, 200)
		entries := got.body["entries"].([]any)
		if len(entries) != 4 || got.body["next_cursor"] != nil {
			t.Fatalf("entries %s, want 4 on one page", got.raw)
		}
		first := entries[0].(map[string]any)
		if first["redemption_id"] != ids[0] || first["kind"] != "redeem" || first["amount"] != 10.0 || first["actor"] != shop || first["commission_id"] != nil || first["created_at"] != "2026-11-20T12:00:03Z" {
			t.Errorf("newest entry %v", first)
		}
		if last := entries[3].(map[string]any); last["commission_id"] != "41" || last["kind"] != "post" || last["actor"] != nil || last["redemption_id"] != nil || last["amount"] != 1000.0 {
			t.Errorf("oldest entry %v", last)
		}
		page := list("limit=3")
		cursor, _ := page.body["next_cursor"].(string)
		if len(page.body["entries"].([]any)) != 3 || cursor == "" {
			t.Fatalf("first page %s", page.raw)
		}
		page = list("limit=3&cursor=" + cursor)
		if rest := page.body["entries"].([]any); len(rest) != 1 || rest[0].(map[string]any)["commission_id"] != "41" || page.body["next_cursor"] != nil {
			t.Errorf("last page %s", page.raw)
		}
		for _, q := range []string{"limit=0", "limit=101", "limit=x", "cursor=abc", "limit=%zz"} {
			got := list(q)
			msg, _ := got.body["error"].(string)
			field := strings.SplitN(q, "=", 2)[0]
			if q == "limit=%zz" {
				field = "query"
			}
			if got.status != 400 || !strings.HasPrefix(msg, field+" ") {
				t.Errorf("%s: %d %s, want 400 naming %s", q, got.status, got.raw, field)
			}
		}
	})
}

func TestUnknownRouteIs404(t *testing.T) {
	a := newAPI(t, fake.NewStore())
	got := a.call(t, "GET /v1/somewhere", nil, "", nil, "")
	want(t, got, 404)
}

func TestACallWithoutACallerIsRefused(t *testing.T) {
	a := newAPI(t, fake.NewStore())
	resp, _ := a.h.Handle(t.Context(), events.APIGatewayV2HTTPRequest{RouteKey: rewardsapi.RouteBalances, PathParameters: map[string]string{"recipient": "promoter:1"}})
	if resp.StatusCode != 403 {
		t.Errorf("status %d, want 403", resp.StatusCode)
	}
	a.h.DefaultActor = "local"
	a.deliver(t, reward.Promoter("1"), "1", 10)
	resp, _ = a.h.Handle(t.Context(), events.APIGatewayV2HTTPRequest{RouteKey: rewardsapi.RouteRedemptions, PathParameters: map[string]string{"recipient": "promoter:1"},
		Headers: map[string]string{"idempotency-key": "k"}, Body: `{"provider":"firstpromoter","unit":"points","amount":1}`})
	if resp.StatusCode != 201 {
		t.Fatalf("status %d %s, want 201", resp.StatusCode, resp.Body)
	}
	l, _ := a.store.Ledger(t.Context())
	for _, e := range l.Entries {
		if e.Kind == reward.KindRedeem && e.Actor != "local" {
			t.Errorf("entry %s has actor %q, want local", e.ID, e.Actor)
		}
	}
}

// unreachable fails every call as an unreachable DynamoDB would, with a
// message that must never reach the caller.
type unreachable struct{}

var errInternal = errors.New("dial tcp 10.0.0.1:443: table rewardrelay-ledger in account 123456789012 unreachable")

func (unreachable) Redeem(context.Context, reward.RedemptionChange) error { return errInternal }
func (unreachable) TransitionRedemption(context.Context, reward.RedemptionChange) error {
	return errInternal
}
func (unreachable) RedemptionHistory(context.Context, string) (reward.Redemption, []reward.Entry, error) {
	return reward.Redemption{}, nil, errInternal
}
func (unreachable) Redemption(context.Context, string) (reward.Redemption, error) {
	return reward.Redemption{}, errInternal
}
func (unreachable) RecipientBalances(context.Context, reward.Recipient) ([]reward.Balance, error) {
	return nil, errInternal
}
func (unreachable) RecipientEntries(context.Context, reward.Recipient, int, string) ([]reward.Entry, string, error) {
	return nil, "", errInternal
}
func (unreachable) ExpiredHolds(context.Context, time.Time, int) ([]reward.Redemption, error) {
	return nil, errInternal
}
func (unreachable) Commission(context.Context, reward.Provider, string) (reward.Commission, error) {
	return reward.Commission{}, errInternal
}
func (unreachable) Apply(context.Context, reward.EventRecord, reward.Change) error {
	return errInternal
}

func TestAnUnreachableLedgerIs503WithoutItsError(t *testing.T) {
	t.Run("fake", func(t *testing.T) { run503(t, unreachable{}) })
	t.Run("dynamodb", func(t *testing.T) {
		client, _ := awstest.Table(t)
		run503(t, &dynamo.Store{Client: client, Table: "no-such-table"})
	})
}

func run503(t *testing.T, s rewardsapi.Store) {
	var log bytes.Buffer
	now := func() time.Time { return start }
	h := Handler{API: rewardsapi.API{Store: s, Now: now}, Log: slog.New(slog.NewJSONHandler(&log, nil)), Now: now, DefaultActor: "local"}
	for _, req := range []events.APIGatewayV2HTTPRequest{
		{RouteKey: rewardsapi.RouteBalances, PathParameters: map[string]string{"recipient": "promoter:1"}},
		{RouteKey: rewardsapi.RouteEntries, PathParameters: map[string]string{"recipient": "promoter:1"}},
		{RouteKey: rewardsapi.RouteRedemptions, PathParameters: map[string]string{"recipient": "promoter:1"}, Headers: map[string]string{"idempotency-key": "k"}, Body: `{"provider":"firstpromoter","unit":"points","amount":1}`},
		{RouteKey: rewardsapi.RouteCapture, PathParameters: map[string]string{"id": "rdm_00000000000000000000000000000000"}},
		{RouteKey: rewardsapi.RouteDeliveryFailed, PathParameters: map[string]string{"provider": "firstpromoter", "id": "1"}, Body: `{"reason":"x"}`},
		{RouteKey: rewardsapi.RouteRedeliver, PathParameters: map[string]string{"provider": "firstpromoter", "id": "1"}},
	} {
		resp, err := h.Handle(t.Context(), req)
		if err != nil || resp.StatusCode != 503 || resp.Body != `{"error":"the ledger is unavailable; retry later"}` {
			t.Errorf("%s: %d %s %v, want 503 with a fixed answer", req.RouteKey, resp.StatusCode, resp.Body, err)
		}
	}
	if !strings.Contains(log.String(), `"level":"ERROR"`) {
		t.Errorf("no error line logged: %s", log.String())
	}
}

func TestFiftyRedemptionsAtOnceNeverOverdraw(t *testing.T) {
	onBothStores(t, func(t *testing.T, a *api) {
		const balance, amount, n = 1000, 70, 50
		a.deliver(t, reward.Promoter("801"), "1", balance)
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				resp, err := a.h.Handle(t.Context(), events.APIGatewayV2HTTPRequest{
					RouteKey: rewardsapi.RouteRedemptions, PathParameters: map[string]string{"recipient": "promoter:801"},
					Headers: map[string]string{"idempotency-key": fmt.Sprint("c", i)},
					Body:    fmt.Sprintf(`{"provider":"firstpromoter","unit":"points","amount":%d,"hold":%v}`, amount, i%3 == 0),
					RequestContext: events.APIGatewayV2HTTPRequestContext{Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
						IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: shop}}},
				})
				if err == nil {
					statuses[i] = resp.StatusCode
				}
			})
		}
		wg.Wait()
		count := map[int]int{}
		for _, s := range statuses {
			count[s]++
		}
		if count[201] != balance/amount || count[409] != n-balance/amount {
			t.Errorf("answers %v, want %d created and %d refused with 409", count, balance/amount, n-balance/amount)
		}
		audit(t, a)
	})
}

// audit checks the whole ledger's invariants.
func audit(t *testing.T, a *api) {
	t.Helper()
	l, err := a.store.Ledger(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v := l.Audit(); len(v) > 0 {
		t.Errorf("audit: %v", v)
	}
}

// conflicting is a store whose writes meet a concurrent transaction the
// first conflicts times, then go through.
type conflicting struct {
	fake.LedgerStore
	conflicts int
}

func (c *conflicting) conflict() bool {
	if c.conflicts > 0 {
		c.conflicts--
		return true
	}
	return false
}

func (c *conflicting) Redeem(ctx context.Context, ch reward.RedemptionChange) error {
	if c.conflict() {
		return fmt.Errorf("redeem: %w", reward.ErrConflict)
	}
	return c.LedgerStore.Redeem(ctx, ch)
}

func (c *conflicting) TransitionRedemption(ctx context.Context, ch reward.RedemptionChange) error {
	if c.conflict() {
		return fmt.Errorf("transition: %w", reward.ErrConflict)
	}
	return c.LedgerStore.TransitionRedemption(ctx, ch)
}

func (c *conflicting) Apply(ctx context.Context, ev reward.EventRecord, ch reward.Change) error {
	if c.conflict() {
		return fmt.Errorf("apply: %w", reward.ErrConflict)
	}
	return c.LedgerStore.Apply(ctx, ev, ch)
}

// TestWritesThatMeetConcurrentOnesBackOffBeforeTryingAgain: a redemption, a
// capture and a failed delivery that meet concurrent transactions wait a
// random part of a ceiling that doubles (2 ms, 4 ms, ... at most 100 ms)
// before each new try, and succeed once the way is clear; a write that
// keeps conflicting is answered 503 after its tries.
func TestWritesThatMeetConcurrentOnesBackOffBeforeTryingAgain(t *testing.T) {
	store := &conflicting{LedgerStore: fake.NewStore()}
	a := newAPI(t, store)
	var waits []time.Duration
	a.h.API.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	a.deliver(t, reward.Promoter("901"), "9", 1000)
	a.deliver(t, reward.Promoter("902"), "10", 500)
	call := func(route string, params map[string]string, key, body string) events.APIGatewayV2HTTPResponse {
		t.Helper()
		req := events.APIGatewayV2HTTPRequest{RouteKey: route, PathParameters: params, Body: body,
			RequestContext: events.APIGatewayV2HTTPRequestContext{Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: shop}}}}
		if key != "" {
			req.Headers = map[string]string{"idempotency-key": key}
		}
		resp, err := a.h.Handle(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	checkWaits := func(what string, n int) {
		t.Helper()
		if len(waits) != n {
			t.Errorf("%s: %d waits %v, want %d", what, len(waits), waits, n)
		}
		for i, d := range waits {
			if ceiling := min(2*time.Millisecond<<i, 100*time.Millisecond); d < 0 || d >= ceiling {
				t.Errorf("%s: wait %d of %v, want under %v", what, i+1, d, ceiling)
			}
		}
		waits = nil
	}

	store.conflicts = 3
	resp := call(rewardsapi.RouteRedemptions, map[string]string{"recipient": "promoter:901"}, "k1", `{"provider":"firstpromoter","unit":"points","amount":100,"hold":true}`)
	if resp.StatusCode != 201 {
		t.Fatalf("redemption after 3 conflicts: %d %s", resp.StatusCode, resp.Body)
	}
	checkWaits("redemption", 3)
	var rd struct{ ID string }
	if err := json.Unmarshal([]byte(resp.Body), &rd); err != nil {
		t.Fatal(err)
	}

	store.conflicts = 2
	if resp := call(rewardsapi.RouteCapture, map[string]string{"id": rd.ID}, "", ""); resp.StatusCode != 200 {
		t.Fatalf("capture after 2 conflicts: %d %s", resp.StatusCode, resp.Body)
	}
	checkWaits("capture", 2)

	store.conflicts = 1
	if resp := call(rewardsapi.RouteDeliveryFailed, map[string]string{"provider": "firstpromoter", "id": "10"}, "", `{"reason":"the account was closed"}`); resp.StatusCode/100 != 2 {
		t.Fatalf("delivery-failed after a conflict: %d %s", resp.StatusCode, resp.Body)
	}
	checkWaits("delivery-failed", 1)

	store.conflicts = 1000
	if resp := call(rewardsapi.RouteRedemptions, map[string]string{"recipient": "promoter:901"}, "k2", `{"provider":"firstpromoter","unit":"points","amount":1}`); resp.StatusCode != 503 {
		t.Errorf("a redemption that always conflicts: %d %s, want 503", resp.StatusCode, resp.Body)
	}
	checkWaits("a redemption that always conflicts", 19)
}
