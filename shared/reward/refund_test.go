package reward

import "testing"

// A partial refund follows an approval: what remains is delivered, unless
// the recipient is on hold, and the commission passes the audit.
func TestPartialRefundFollowsAnApproval(t *testing.T) {
	held := func(in Intent) Intent { in.Held = true; return in }
	for _, tt := range []struct {
		name      string
		cur       *Commission
		in        Intent
		outcome   Outcome
		status    Status
		deltas    Deltas
		delivered bool
	}{
		{"pending, refunded in part", stored(Pending, 500, 0), intent(TargetRefunded, 400), Applied, Approved, Deltas{Pending: -500, Available: 400}, true},
		{"pending and on hold, refunded in part", stored(Pending, 500, 0), held(intent(TargetRefunded, 400)), Applied, Pending, Deltas{Pending: -100}, false},
		{"held approval, refunded in part again", &Commission{Provider: FirstPromoter, ID: "7", Account: acct, Amount: 500, Refunded: 100, Status: Pending, HeldApproval: true, Reduced: true}, held(intent(TargetRefunded, 400)), Duplicate, Pending, Deltas{}, false},
		{"hold released", &Commission{Provider: FirstPromoter, ID: "7", Account: acct, Amount: 500, Refunded: 100, Status: Pending, HeldApproval: true, Reduced: true}, intent(TargetRefunded, 400), Applied, Approved, Deltas{Pending: -400, Available: 400}, true},
		{"never seen, on hold", nil, held(intent(TargetRefunded, 300)), Applied, Pending, Deltas{Pending: 300}, false},
		{"delivered, refunded in part", stored(Approved, 500, 0), intent(TargetRefunded, 400), Applied, Approved, Deltas{Available: -100, Reversed: 100}, false},
		{"a larger remainder than pending", stored(Pending, 500, 200), intent(TargetRefunded, 400), Applied, Approved, Deltas{Pending: -300, Available: 300}, true},
		{"rejected, then refunded in part", stored(Denied, 500, 500), intent(TargetRefunded, 300), Stale, Denied, Deltas{}, false},
		{"refunded, then refunded in part", stored(Reversed, 500, 500), intent(TargetRefunded, 300), Stale, Reversed, Deltas{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Plan(tt.cur, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if c.Outcome != tt.outcome || c.After.Status != tt.status || c.Delivered != tt.delivered || c.Deltas() != tt.deltas {
				t.Errorf("got %s %s delivered %v %+v; want %s %s delivered %v %+v", c.Outcome, c.After.Status, c.Delivered, c.Deltas(), tt.outcome, tt.status, tt.delivered, tt.deltas)
			}
			// The commission's entries, from its pending credit on, pass the
			// audit in its new state.
			var entries []Entry
			if tt.cur != nil {
				entries = append(entries, Entry{ID: "pending", Account: acct, Subject: "commission:7", Deltas: Deltas{Pending: tt.cur.Amount}})
				if tt.cur.Refunded > 0 {
					entries = append(entries, Entry{ID: "void", Account: acct, Subject: "commission:7", Deltas: Deltas{Pending: -tt.cur.Refunded}})
				}
				switch tt.cur.Status {
				case Approved:
					entries = []Entry{{ID: "post", Account: acct, Subject: "commission:7", Deltas: Deltas{Available: tt.cur.Effective()}}}
				case Reversed:
					entries = []Entry{{ID: "reverse", Account: acct, Subject: "commission:7", Deltas: Deltas{Reversed: tt.cur.Amount}}}
				}
			}
			entries = append(entries, c.Entries...)
			if v := AuditCommission(c.After, entries); len(v) > 0 {
				t.Errorf("audit: %v", v)
			}
		})
	}
}
