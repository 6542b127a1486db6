package handler

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/rewardsapi"
)

// TestOddPathValuesAreRefusedNotUnavailable sends path values that are not
// text (invalid UTF-8, control characters, escaped) to every route: each is
// a client error or an empty answer, never a 5xx.
func TestOddPathValuesAreRefusedNotUnavailable(t *testing.T) {
	onBothStores(t, func(t *testing.T, a *api) {
		a.deliver(t, reward.Promoter("801"), "41", 1000)
		recipients := []string{"promoter:%FF", "promoter:\xff\xfe", "promoter:%00", "promoter:a%0Ab", "promoter:%C0%AF", "promoter%3A%ED%A0%80"}
		for _, rc := range recipients {
			for _, route := range []string{rewardsapi.RouteBalances, rewardsapi.RouteEntries} {
				if got := a.call(t, route, map[string]string{"recipient": rc}, "", nil, ""); got.status >= 500 {
					t.Errorf("%s %q: %d %s", route, rc, got.status, got.raw)
				}
			}
			got := a.redeem(t, rc, "k", `{"provider":"firstpromoter","unit":"points","amount":1}`)
			if got.status >= 500 {
				t.Errorf("redeem %q: %d %s", rc, got.status, got.raw)
			}
		}
		for _, id := range []string{"rdm_\xff", "rdm_%FF", "rdm_\x00"} {
			for _, route := range []string{rewardsapi.RouteCapture, rewardsapi.RouteVoid, rewardsapi.RouteReverse} {
				if got := a.act(t, route, id); got.status != 404 {
					t.Errorf("%s %q: %d %s, want 404", route, id, got.status, got.raw)
				}
			}
		}
	})
}

// TestForgedCursorsAreRefusedOrHarmless sends cursors that no page
// returned: odd bytes, a key longer than any the index holds, and another
// recipient's position. Each is a 400 naming the cursor or a page of the
// asked recipient's own entries, never a 5xx.
func TestForgedCursorsAreRefusedOrHarmless(t *testing.T) {
	onBothStores(t, func(t *testing.T, a *api) {
		a.deliver(t, reward.Promoter("801"), "41", 1000)
		a.deliver(t, reward.Promoter("802"), "42", 1000)
		at := "2026-11-20T12:00:00.000000000Z#"
		forged := map[string]string{
			"invalid UTF-8": at + "firstpromoter#\xff\xfe#post",
			"long id":       at + "firstpromoter#commission:" + strings.Repeat("9", 2000) + "#post",
			"far future":    "9999-12-31T23:59:59.999999999Z#firstpromoter#commission:42#post",
		}
		for name, raw := range forged {
			cursor := base64.RawURLEncoding.EncodeToString([]byte(raw))
			got := a.call(t, rewardsapi.RouteEntries, map[string]string{"recipient": "promoter:801"}, "cursor="+cursor, nil, "")
			if got.status != 200 && got.status != 400 {
				t.Errorf("%s: %d %s, want 200 or 400", name, got.status, got.raw)
				continue
			}
			entries, _ := got.body["entries"].([]any)
			for _, e := range entries {
				if id := e.(map[string]any)["commission_id"]; id != "41" {
					t.Errorf("%s: a page of promoter:801 holds commission %v", name, id)
				}
			}
		}
	})
}

// signed is a request as API Gateway passes it after SigV4.
func signed(route string, params, header map[string]string, body string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		RouteKey: route, PathParameters: params, Headers: header, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: shop}}},
	}
}

// TestCaptureRacingVoidEndsInOneState fires captures and voids of one hold
// at once: every answer is 200 or 409, the 200s all name the state that
// stays, and the ledger audits clean.
func TestCaptureRacingVoidEndsInOneState(t *testing.T) {
	onBothStores(t, func(t *testing.T, a *api) {
		a.deliver(t, reward.Promoter("801"), "1", 1000)
		got := a.redeem(t, "promoter:801", "h", `{"provider":"firstpromoter","unit":"points","amount":100,"hold":true}`)
		want(t, got, 201)
		id := got.body["id"].(string)
		const n = 24
		answers := make([]events.APIGatewayV2HTTPResponse, n)
		var wg sync.WaitGroup
		for i := range n {
			route := rewardsapi.RouteCapture
			if i%2 == 1 {
				route = rewardsapi.RouteVoid
			}
			wg.Go(func() {
				answers[i], _ = a.h.Handle(t.Context(), signed(route, map[string]string{"id": id}, nil, ""))
			})
		}
		wg.Wait()
		final, err := a.store.Redemption(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range answers {
			var body map[string]any
			_ = json.Unmarshal([]byte(r.Body), &body)
			switch {
			case r.StatusCode == 200 && body["status"] != string(final.Status):
				t.Errorf("answer %d: 200 %s, but the redemption is %s", i, r.Body, final.Status)
			case r.StatusCode != 200 && r.StatusCode != 409:
				t.Errorf("answer %d: %d %s, want 200 or 409", i, r.StatusCode, r.Body)
			}
		}
		audit(t, a)
	})
}

// TestOneKeyWithTwoBodiesAtOnceMakesOneRedemption sends one idempotency
// key with two different bodies at once, many times: one redemption is
// made, each answer is it (201) or a 422, never a 5xx, and the balance
// moves once.
func TestOneKeyWithTwoBodiesAtOnceMakesOneRedemption(t *testing.T) {
	onBothStores(t, func(t *testing.T, a *api) {
		a.deliver(t, reward.Promoter("801"), "1", 1000)
		const n = 24
		answers := make([]events.APIGatewayV2HTTPResponse, n)
		var wg sync.WaitGroup
		for i := range n {
			body := fmt.Sprintf(`{"provider":"firstpromoter","unit":"points","amount":%d}`, 100+i%2)
			wg.Go(func() {
				answers[i], _ = a.h.Handle(t.Context(), signed(rewardsapi.RouteRedemptions, map[string]string{"recipient": "promoter:801"}, map[string]string{"idempotency-key": "same"}, body))
			})
		}
		wg.Wait()
		ids := map[any]bool{}
		for i, r := range answers {
			var body map[string]any
			_ = json.Unmarshal([]byte(r.Body), &body)
			switch r.StatusCode {
			case 201:
				ids[body["id"]] = true
			case 422:
			default:
				t.Errorf("answer %d: %d %s, want 201 or 422", i, r.StatusCode, r.Body)
			}
		}
		if len(ids) != 1 {
			t.Errorf("redemptions %v, want one", ids)
		}
		bs, err := a.store.RecipientBalances(t.Context(), reward.Promoter("801"))
		if err != nil || len(bs) != 1 || bs[0].Redeemed != 100 && bs[0].Redeemed != 101 {
			t.Errorf("balances %+v %v, want one redemption of 100 or 101", bs, err)
		}
		audit(t, a)
	})
}

// TestAReplayIsAnsweredWhenTheBalanceNoLongerCoversIt replays a redemption
// after the rest of the balance was spent: the replay is the redemption
// (with the replay header), not a 409.
func TestAReplayIsAnsweredWhenTheBalanceNoLongerCoversIt(t *testing.T) {
	onBothStores(t, func(t *testing.T, a *api) {
		a.deliver(t, reward.Promoter("801"), "1", 100)
		body := `{"provider":"firstpromoter","unit":"points","amount":100}`
		first := a.redeem(t, "promoter:801", "k", body)
		want(t, first, 201)
		again := a.redeem(t, "promoter:801", "k", body)
		if again.status != 201 || again.body["id"] != first.body["id"] || again.header["idempotent-replayed"] != "true" {
			t.Errorf("replay: %d %v %s, want 201 with the same id and the replay header", again.status, again.header, again.raw)
		}
		want(t, a.redeem(t, "promoter:801", "k", `{"provider":"firstpromoter","unit":"points","amount":99}`), 422)
		audit(t, a)
	})
}
