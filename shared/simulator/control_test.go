package simulator

import (
	"net/http"
	"strings"
	"testing"
)

func TestRemoteDrivesARunningSimulator(t *testing.T) {
	sim := New()
	srv := sim.Start()
	defer srv.Close()
	remote := &Remote{URL: srv.URL}
	ctx := t.Context()
	if err := remote.PutCommissions(ctx, []FPCommission{
		{ID: 5, Status: "approved", Unit: "points", Amount: 50, PromoterID: 9, RewardID: 2},
		{ID: 6, Status: "pending", Unit: "credits", Amount: 7, PromoterID: 9, ReferralID: 4, UID: "u4"},
		{ID: 99, Status: "pending", Unit: "points", Amount: 1, PromoterID: 9},
	}); err != nil {
		t.Fatal(err)
	}
	if err := remote.PutConversions(ctx, []Conversion{{ID: "c1", AffiliateID: "a1", CommissionAmount: 300, Currency: "usd", Status: "approved"}}); err != nil {
		t.Fatal(err)
	}
	if c, ok := sim.Commission(6); !ok || c.ReferralID != 4 || c.UID != "u4" || c.PromoterID != 9 {
		t.Errorf("commission 6 arrived as %+v", c)
	}
	// A platform call marks 5 fulfilled; the control API reads it back.
	req, _ := http.NewRequest(http.MethodPost, FirstPromoterURL(srv.URL)+"/commissions/mark_fulfilled", strings.NewReader(`{"ids":[5]}`))
	req.Header.Set("Authorization", "Bearer "+sim.APIKey)
	req.Header.Set("Account-ID", sim.AccountID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got, err := remote.Commissions(ctx, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != 5 || !got[0].Fulfilled || got[0].FulfilledAt.IsZero() || got[1].Fulfilled {
		t.Errorf("commissions 1-10: %+v (mark_fulfilled answered %d)", got, resp.StatusCode)
	}
	if err := remote.SetStatus(ctx, 5, "denied"); err != nil {
		t.Fatal(err)
	}
	if c, _ := sim.Commission(5); c.Status != "denied" || !c.Fulfilled {
		t.Errorf("after SetStatus: %+v; want denied and still fulfilled", c)
	}
	if err := remote.SetStatus(ctx, 404, "approved"); err == nil || !strings.Contains(err.Error(), "no such commission") {
		t.Errorf("SetStatus of an unknown commission: %v", err)
	}
	if err := remote.SetFaultRate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(AgentRefURL(srv.URL) + "/conversions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("with every request failing, a platform call answered %d", resp.StatusCode)
	}
	if err := remote.SetFaultRate(ctx, 0); err != nil {
		t.Fatal(err)
	}
	st, err := remote.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Calls != 2 || st.FirstPromoter != 1 || st.AgentRef != 1 || st.Faults != 1 {
		t.Errorf("stats %+v: want 2 platform calls (one each), one fault, control calls not counted", st)
	}
	if err := remote.SetFaultRate(ctx, -1); err != nil || sim.Flaky != nil {
		t.Errorf("a negative rate did not turn faults off: %v", err)
	}
	if _, err := (&Remote{URL: srv.URL}).Commissions(ctx, 0, -1); err != nil {
		t.Errorf("an empty range: %v", err)
	}
}
