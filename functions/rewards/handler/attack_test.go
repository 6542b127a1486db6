package handler

import (
	"encoding/base64"
	"strings"

	"testing"

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
