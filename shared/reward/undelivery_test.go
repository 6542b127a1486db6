package reward

import (
	"errors"
	"testing"
)

// ledgerOf applies changes in order to an in-memory ledger of one
// commission and audits it after each.
type ledgerOf struct {
	t       *testing.T
	c       Commission
	entries []Entry
}

func (l *ledgerOf) apply(c Change, err error) {
	l.t.Helper()
	if err != nil {
		l.t.Fatal(err)
	}
	if c.Outcome != Applied {
		l.t.Fatalf("outcome %s (%s), want applied", c.Outcome, c.Reason)
	}
	if !SameState(c.Before, &l.c) {
		l.t.Fatalf("planned from %+v, stored %+v", c.Before, l.c)
	}
	seen := map[string]bool{}
	for _, e := range l.entries {
		seen[e.ID] = true
	}
	for _, e := range c.Entries {
		if seen[e.ID] {
			l.t.Fatalf("entry %s written twice", e.ID)
		}
	}
	l.c = c.After
	l.entries = append(l.entries, c.Entries...)
	if v := AuditCommission(l.c, l.entries); len(v) > 0 {
		l.t.Fatalf("audit after %+v: %v", c.Entries, v)
	}
}

func (l *ledgerOf) balance() Deltas {
	var d Deltas
	for _, e := range l.entries {
		d = d.Add(e.Deltas)
	}
	return d
}

func delivered500(t *testing.T) *ledgerOf {
	l := &ledgerOf{t: t, c: *stored(Pending, 500, 0)}
	l.entries = []Entry{{ID: "firstpromoter#commission:7#pending", Account: acct, Subject: "commission:7", Kind: KindPending, Deltas: Deltas{Pending: 500}}}
	l.apply(Plan(&l.c, intent(TargetApproved, 500)))
	return l
}

func TestAFailedDeliveryLeavesAvailableAndARedeliveryIsAcknowledgedAgain(t *testing.T) {
	l := delivered500(t)
	l.apply(Acknowledge(l.c, "", at))
	l.apply(PlanUndelivered(l.c, "card declined", "arn:user", at))
	if l.c.Fulfilment != UnfulfilRequested || !l.c.Undelivered || l.c.UndeliveredReason != "card declined" {
		t.Errorf("after the failure: %+v", l.c)
	}
	if got := l.balance(); got != (Deltas{Fulfilled: 500}) {
		t.Errorf("balance after the failure %+v: fulfilled stays until the platform confirms", got)
	}
	if e := l.entries[len(l.entries)-1]; e.ID != "firstpromoter#commission:7#undelivered#1" || e.Actor != "arn:user" {
		t.Errorf("entry %+v", e)
	}
	again, err := PlanUndelivered(l.c, "card declined", "arn:user", at)
	if err != nil || again.Outcome != Duplicate || len(again.Entries) != 0 {
		t.Errorf("the same failure again: %s %v", again.Outcome, err)
	}
	l.apply(ConfirmUnfulfilled(l.c, at), nil)
	if got := l.balance(); got != (Deltas{}) {
		t.Errorf("balance once the platform confirmed %+v", got)
	}
	l.apply(PlanRedelivered(l.c, "arn:user", at))
	if l.c.Fulfilment != Requested || l.c.Undelivered {
		t.Errorf("after the redelivery: %+v", l.c)
	}
	ack, err := Acknowledge(l.c, "", at)
	l.apply(ack, err)
	if ack.Entries[0].ID != "firstpromoter#commission:7#ack#2" {
		t.Errorf("second acknowledgement's id %s", ack.Entries[0].ID)
	}
	if got := l.balance(); got != (Deltas{Available: 500, Fulfilled: 500}) {
		t.Errorf("balance after the redelivery %+v", got)
	}
	// A second cycle numbers its entries anew; redelivered before the
	// platform confirmed, the fulfilled balance drops until it confirms again.
	l.apply(PlanUndelivered(l.c, "again", "arn:user", at))
	l.apply(PlanRedelivered(l.c, "arn:user", at))
	if got := l.balance(); got != (Deltas{Available: 500}) {
		t.Errorf("balance after a redelivery the platform never heard of the failure of %+v", got)
	}
	ack, err = Acknowledge(l.c, "", at)
	l.apply(ack, err)
	if ack.Entries[0].ID != "firstpromoter#commission:7#ack#3" {
		t.Errorf("third acknowledgement's id %s", ack.Entries[0].ID)
	}
}

func TestAReversalOfAnUndeliveredRewardTakesNothingFromAvailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Intent
		want Deltas
	}{
		{"denied", intent(TargetDenied, 500), Deltas{Reversed: 500}},
		{"refunded in part", intent(TargetRefunded, 200), Deltas{Reversed: 300}},
		{"refunded in full", intent(TargetRefunded, 0), Deltas{Reversed: 500}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := delivered500(t)
			l.apply(PlanUndelivered(l.c, "failed", "local", at))
			l.apply(Plan(&l.c, tc.in))
			if got := l.balance(); got != tc.want {
				t.Errorf("balance %+v, want %+v", got, tc.want)
			}
		})
	}
	// Refunded in part while undelivered, then redelivered: what remains
	// comes back.
	l := delivered500(t)
	l.apply(PlanUndelivered(l.c, "failed", "local", at))
	l.apply(Plan(&l.c, intent(TargetRefunded, 200)))
	l.apply(PlanRedelivered(l.c, "local", at))
	if got := l.balance(); got != (Deltas{Available: 200, Reversed: 300}) {
		t.Errorf("balance after the redelivery %+v", got)
	}
}

func TestUndeliveredIsPartOfTheWriteCondition(t *testing.T) {
	l := delivered500(t)
	before := l.c
	l.apply(PlanUndelivered(l.c, "failed", "local", at))
	if SameState(&before, &l.c) {
		t.Error("a delivered and an undelivered commission plan alike")
	}
	redelivered, _ := PlanRedelivered(l.c, "local", at)
	if SameState(&before, &redelivered.After) {
		t.Error("a commission before and after a failed delivery's cycle plans alike: its entries' numbers differ")
	}
}

func TestOnlyADeliveredRewardCanFailOrBeRedelivered(t *testing.T) {
	for _, s := range []Status{Pending, Denied, Reversed} {
		if _, err := PlanUndelivered(*stored(s, 500, 0), "failed", "local", at); !errors.Is(err, ErrNotDelivered) {
			t.Errorf("delivery failed of a %s commission: %v", s, err)
		}
		if _, err := PlanRedelivered(*stored(s, 500, 0), "local", at); !errors.Is(err, ErrNotDelivered) {
			t.Errorf("redeliver a %s commission: %v", s, err)
		}
	}
	if c, err := PlanRedelivered(*stored(Approved, 500, 0), "local", at); err != nil || c.Outcome != Duplicate {
		t.Errorf("redeliver a delivered commission: %s %v", c.Outcome, err)
	}
	for _, reason := range []string{"", string(make([]rune, MaxReasonLength+1))} {
		if _, err := PlanUndelivered(*stored(Approved, 500, 0), reason, "local", at); !errors.Is(err, ErrInvalid) {
			t.Errorf("reason of %d characters: %v", len(reason), err)
		}
	}
}

func TestAFailureBeforeTheAcknowledgementWithdrawsIt(t *testing.T) {
	l := delivered500(t)
	if l.c.Fulfilment != Requested {
		t.Fatalf("fulfilment %s", l.c.Fulfilment)
	}
	l.apply(PlanUndelivered(l.c, "failed", "local", at))
	if l.c.Fulfilment != Withdrawn {
		t.Errorf("fulfilment %s, want withdrawn", l.c.Fulfilment)
	}
	l.apply(PlanRedelivered(l.c, "local", at))
	l.apply(Acknowledge(l.c, "", at))
	if got := l.balance(); got != (Deltas{Available: 500, Fulfilled: 500}) {
		t.Errorf("balance %+v", got)
	}
}

func TestAnAcknowledgementConfirmedAfterTheFailureIsBookedAndTakenBack(t *testing.T) {
	l := delivered500(t)
	l.apply(PlanUndelivered(l.c, "failed", "local", at))
	// The acknowledgement sent before the failure is confirmed late.
	late, err := Acknowledge(l.c, "", at)
	l.apply(late, err)
	if l.c.Fulfilment != UnfulfilRequested || late.Entries[0].ID != "firstpromoter#commission:7#ack#2#late" {
		t.Errorf("late acknowledgement: %s %s", l.c.Fulfilment, late.Entries[0].ID)
	}
	// Redelivered before the platform heard of the failure, then
	// acknowledged again: no id is used twice.
	l.apply(PlanRedelivered(l.c, "local", at))
	l.apply(Acknowledge(l.c, "", at))
	if got := l.balance(); got != (Deltas{Available: 500, Fulfilled: 500}) {
		t.Errorf("balance %+v", got)
	}
}

func TestAnAgentRefDeliveryFailsInTheLedgerOnly(t *testing.T) {
	c := *stored(Approved, 900, 0)
	c.Provider, c.Account = AgentRef, Account{Provider: AgentRef, Recipient: Affiliate("a"), Unit: Cash, Currency: "usd"}
	u, err := PlanUndelivered(c, "failed", "local", at)
	if err != nil || u.FulfilmentChanged || u.After.Fulfilment != NotRequested {
		t.Errorf("failure: %+v %v", u.After, err)
	}
	r, err := PlanRedelivered(u.After, "local", at)
	if err != nil || r.FulfilmentChanged || r.After.Fulfilment != NotRequested {
		t.Errorf("redelivery: %+v %v", r.After, err)
	}
}
