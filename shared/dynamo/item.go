package dynamo

import (
	"fmt"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// Item types, in the "type" attribute of every item.
const (
	typeCommission = "commission"
	typePayout     = "payout"
	typeEntry      = "entry"
	typeBalance    = "balance"
	typeEvent      = "event"
	typeHold       = "hold"
	typeHoldIndex  = "hold_index"
)

// Keys. A commission, its entries and (for payouts) the payout share a
// partition: one Query returns a commission's whole history.
func subjectPK(p reward.Provider, subject string) string { return string(p) + "#" + subject }
func commissionPK(p reward.Provider, id string) string {
	return subjectPK(p, "commission:"+id)
}
func payoutPK(p reward.Provider, id string) string { return subjectPK(p, "payout:"+id) }
func eventPK(p reward.Provider, id string) string  { return "EVENT#" + string(p) + "#" + id }
func balancePK(a reward.Account) string            { return "BALANCE#" + a.String() }
func holdPK(p reward.Provider, r reward.Recipient) string {
	return "HOLD#" + string(p) + "#" + string(r)
}

// holdsPK is the partition that lists a provider's holds, one item per
// recipient beside its hold item, for the reconciler.
func holdsPK(p reward.Provider) string { return "HOLDS#" + string(p) }

const (
	skState   = "STATE"
	skEvent   = "EVENT"
	skBalance = "BALANCE"
	skHold    = "HOLD"
)

// entryKey derives an entry's key from its id alone, so that one id can only
// ever be one item; ids start with provider#subject (the subject's own "#"
// escaped), which puts entries in their commission's partition.
func entryKey(id string) (pk, sk string) {
	p, subject, ok := reward.EntrySubject(id)
	if !ok {
		return "ENTRY#" + id, "ENTRY#" + id
	}
	return subjectPK(p, subject), "ENTRY#" + id
}

type accountItem struct {
	Provider  string `dynamodbav:"provider"`
	Recipient string `dynamodbav:"recipient"`
	Unit      string `dynamodbav:"unit"`
	Currency  string `dynamodbav:"currency"`
}

func accountOf(a reward.Account) accountItem {
	return accountItem{string(a.Provider), string(a.Recipient), string(a.Unit), a.Currency}
}

func (a accountItem) account() reward.Account {
	return reward.Account{Provider: reward.Provider(a.Provider), Recipient: reward.Recipient(a.Recipient), Unit: reward.Unit(a.Unit), Currency: a.Currency}
}

type commissionItem struct {
	PK   string `dynamodbav:"pk"`
	SK   string `dynamodbav:"sk"`
	Type string `dynamodbav:"type"`
	accountItem
	ID              string `dynamodbav:"id"`
	Amount          int64  `dynamodbav:"amount"`
	Refunded        int64  `dynamodbav:"refunded"`
	Status          string `dynamodbav:"status"`
	Version         int64  `dynamodbav:"version"`
	HeldApproval    bool   `dynamodbav:"held_approval"`
	Reduced         bool   `dynamodbav:"reduced"`
	Moves           int64  `dynamodbav:"moves"`
	Fulfilment      string `dynamodbav:"fulfilment,omitempty"`
	FulfilmentBatch string `dynamodbav:"fulfilment_batch,omitempty"`
	FulfilmentError string `dynamodbav:"fulfilment_error,omitempty"`
	RequestedAt     string `dynamodbav:"requested_at,omitempty"`
	UpdatedAt       string `dynamodbav:"updated_at"`
	Outbox          string `dynamodbav:"outbox,omitempty"`
	OutboxAt        string `dynamodbav:"outbox_at,omitempty"`

	// Written only once a delivery failed: commissions without have none.
	Undelivered       bool   `dynamodbav:"undelivered,omitempty"`
	UndeliveredReason string `dynamodbav:"undelivered_reason,omitempty"`
	Undeliveries      int64  `dynamodbav:"undeliveries,omitempty"`
}

func (c commissionItem) commission() (reward.Commission, error) {
	at, err := time.Parse(time.RFC3339Nano, c.UpdatedAt)
	if err != nil {
		return reward.Commission{}, fmt.Errorf("commission %s: updated_at %q: %w", c.PK, c.UpdatedAt, err)
	}
	// An item written before requested_at existed has only its outbox time.
	requested := c.RequestedAt
	if requested == "" {
		requested = c.OutboxAt
	}
	var requestedAt time.Time
	if requested != "" {
		if requestedAt, err = time.Parse(time.RFC3339Nano, requested); err != nil {
			return reward.Commission{}, fmt.Errorf("commission %s: requested_at %q: %w", c.PK, requested, err)
		}
	}
	return reward.Commission{
		Provider: reward.Provider(c.Provider), ID: c.ID, Account: c.account(),
		Amount: c.Amount, Refunded: c.Refunded, Status: reward.Status(c.Status), Version: c.Version,
		HeldApproval: c.HeldApproval, Reduced: c.Reduced, Moves: c.Moves, Fulfilment: reward.Fulfilment(c.Fulfilment),
		Undelivered: c.Undelivered, UndeliveredReason: c.UndeliveredReason, Undeliveries: c.Undeliveries,
		FulfilmentBatch: c.FulfilmentBatch, FulfilmentError: c.FulfilmentError, RequestedAt: requestedAt, UpdatedAt: at,
	}, nil
}

type payoutItem struct {
	PK   string `dynamodbav:"pk"`
	SK   string `dynamodbav:"sk"`
	Type string `dynamodbav:"type"`
	accountItem
	ID        string `dynamodbav:"id"`
	Amount    int64  `dynamodbav:"amount"`
	Status    string `dynamodbav:"status"`
	Attempts  int64  `dynamodbav:"attempts"`
	StatusAt  string `dynamodbav:"status_at,omitempty"`
	Version   int64  `dynamodbav:"version"`
	UpdatedAt string `dynamodbav:"updated_at"`
}

func (p payoutItem) payout() reward.Payout {
	at, _ := time.Parse(time.RFC3339Nano, p.UpdatedAt)
	var statusAt time.Time
	if p.StatusAt != "" {
		statusAt, _ = time.Parse(time.RFC3339Nano, p.StatusAt)
	}
	return reward.Payout{
		Provider: reward.Provider(p.Provider), ID: p.ID, Account: p.account(), Amount: p.Amount,
		Status: reward.PayoutStatus(p.Status), Attempts: p.Attempts, StatusAt: statusAt, Version: p.Version, UpdatedAt: at,
	}
}

// payoutStatusAt is how a payout's status time is stored: "" (absent) for
// none, as payouts written before it was kept have.
func payoutStatusAt(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

type entryItem struct {
	PK   string `dynamodbav:"pk"`
	SK   string `dynamodbav:"sk"`
	Type string `dynamodbav:"type"`
	accountItem
	ID        string `dynamodbav:"id"`
	Subject   string `dynamodbav:"subject"`
	Kind      string `dynamodbav:"kind"`
	Pending   int64  `dynamodbav:"pending"`
	Available int64  `dynamodbav:"available"`
	Reversed  int64  `dynamodbav:"reversed"`
	Fulfilled int64  `dynamodbav:"fulfilled"`
	Redeemed  int64  `dynamodbav:"redeemed,omitempty"`
	Held      int64  `dynamodbav:"held,omitempty"`
	EventID   string `dynamodbav:"event_id,omitempty"`
	Actor     string `dynamodbav:"actor,omitempty"`
	At        string `dynamodbav:"at"`
	recipientIndex
}

func entryOf(e reward.Entry) entryItem {
	pk, sk := entryKey(e.ID)
	return entryItem{
		PK: pk, SK: sk, Type: typeEntry, accountItem: accountOf(e.Account),
		ID: e.ID, Subject: e.Subject, Kind: string(e.Kind),
		Pending: e.Deltas.Pending, Available: e.Deltas.Available, Reversed: e.Deltas.Reversed, Fulfilled: e.Deltas.Fulfilled,
		Redeemed: e.Deltas.Redeemed, Held: e.Deltas.Held,
		EventID: e.EventID, Actor: e.Actor, At: e.At.UTC().Format(time.RFC3339Nano),
		recipientIndex: recipientIndex{Of: string(e.Account.Recipient), Sort: entrySort(e)},
	}
}

func (e entryItem) entry() reward.Entry {
	at, _ := time.Parse(time.RFC3339Nano, e.At)
	return reward.Entry{
		ID: e.ID, Account: e.account(), Subject: e.Subject, Kind: reward.EntryKind(e.Kind),
		Deltas:  reward.Deltas{Pending: e.Pending, Available: e.Available, Reversed: e.Reversed, Fulfilled: e.Fulfilled, Redeemed: e.Redeemed, Held: e.Held},
		EventID: e.EventID, Actor: e.Actor, At: at,
	}
}

type balanceItem struct {
	accountItem
	Pending   int64 `dynamodbav:"pending"`
	Available int64 `dynamodbav:"available"`
	Reversed  int64 `dynamodbav:"reversed"`
	Fulfilled int64 `dynamodbav:"fulfilled"`
	Redeemed  int64 `dynamodbav:"redeemed"`
	Held      int64 `dynamodbav:"held"`
}

func (b balanceItem) deltas() reward.Deltas {
	return reward.Deltas{Pending: b.Pending, Available: b.Available, Reversed: b.Reversed, Fulfilled: b.Fulfilled, Redeemed: b.Redeemed, Held: b.Held}
}

func (b balanceItem) balance() reward.Balance {
	return reward.Balance{Account: b.account(), Deltas: b.deltas()}
}

type eventItem struct {
	PK         string `dynamodbav:"pk"`
	SK         string `dynamodbav:"sk"`
	Type       string `dynamodbav:"type"`
	Provider   string `dynamodbav:"provider"`
	ID         string `dynamodbav:"id"`
	EventType  string `dynamodbav:"event_type"`
	Outcome    string `dynamodbav:"outcome,omitempty"`
	ReceivedAt string `dynamodbav:"received_at"`
	ExpiresAt  int64  `dynamodbav:"expires_at"`
}

func eventOf(ev reward.EventRecord) eventItem {
	return eventItem{
		PK: eventPK(ev.Provider, ev.ID), SK: skEvent, Type: typeEvent, Provider: string(ev.Provider), ID: ev.ID,
		EventType: ev.Type, Outcome: string(ev.Outcome), ReceivedAt: ev.ReceivedAt.UTC().Format(time.RFC3339Nano),
		ExpiresAt: ev.ExpiresAt.Unix(),
	}
}

// holdItem is a recipient's hold; the same attributes, under holdsPK, list it.
type holdItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Type      string `dynamodbav:"type"`
	Provider  string `dynamodbav:"provider"`
	Recipient string `dynamodbav:"recipient"`
	Held      bool   `dynamodbav:"held"`
	EventID   string `dynamodbav:"event_id,omitempty"`
	// AsOf is the hold's time in Unix nanoseconds, compared by the write
	// condition; holds stored before it was kept have none.
	AsOf int64 `dynamodbav:"as_of"`
}

func (h holdItem) hold() reward.Hold {
	out := reward.Hold{Provider: reward.Provider(h.Provider), Recipient: reward.Recipient(h.Recipient), Held: h.Held}
	if h.AsOf != 0 {
		out.At = time.Unix(0, h.AsOf).UTC()
	}
	return out
}
