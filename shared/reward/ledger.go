package reward

import (
	"fmt"
	"strings"
	"time"
)

// EntryKind names what a ledger entry does.
type EntryKind string

// Entry kinds: the two-phase model of a pending credit that is posted or
// voided, with reversals as new entries, never edits.
const (
	KindPending EntryKind = "pending" // pending credit
	KindPost    EntryKind = "post"    // pending -> available (or straight to available)
	KindVoid    EntryKind = "void"    // pending credit cancelled (in part or whole)
	KindReverse EntryKind = "reverse" // available -> reversed (clawback after delivery)
	KindAck     EntryKind = "ack"     // the platform acknowledged the delivery
	KindPayout  EntryKind = "payout"  // a payout debited from available
	KindRefund  EntryKind = "payout_failed"
)

// Deltas are signed changes to the balances. Redeemed and Held are the
// recipient's spending: redemptions posted, and redemptions held (a pending
// debit) until captured, voided or expired.
type Deltas struct {
	Pending   int64
	Available int64
	Reversed  int64
	Fulfilled int64
	Redeemed  int64
	Held      int64
}

// Add returns the sum of two deltas.
func (d Deltas) Add(o Deltas) Deltas {
	return Deltas{d.Pending + o.Pending, d.Available + o.Available, d.Reversed + o.Reversed, d.Fulfilled + o.Fulfilled, d.Redeemed + o.Redeemed, d.Held + o.Held}
}

// Sub returns d less o.
func (d Deltas) Sub(o Deltas) Deltas {
	return d.Add(Deltas{-o.Pending, -o.Available, -o.Reversed, -o.Fulfilled, -o.Redeemed, -o.Held})
}

// Entry is one immutable ledger entry. ID is deterministic: the same
// transition of the same commission always produces the same id.
type Entry struct {
	ID      string
	Account Account
	// Subject is the commission (or payout) the entry belongs to.
	Subject string
	Kind    EntryKind
	Deltas  Deltas
	EventID string
	// Actor is who wrote the entry through the Rewards API (an IAM ARN,
	// "local"); empty for the processor's and the reconciler's entries.
	Actor string
	At    time.Time
}

// SameContent reports whether two entries with the same id say the same
// thing. The event and time that wrote them may differ (a replay).
func (e Entry) SameContent(o Entry) bool {
	return e.ID == o.ID && e.Account == o.Account && e.Subject == o.Subject && e.Kind == o.Kind && e.Deltas == o.Deltas
}

// entryID is provider#subject#kind[#n]. The subject's own "#" (and "%")
// are escaped: a platform's id is any string, and one that reads like
// another's id followed by a kind ("c#move#1") must never name its entries.
func entryID(p Provider, subject string, kind EntryKind, n ...int64) string {
	id := fmt.Sprintf("%s#%s#%s", p, subjectEscaper.Replace(subject), kind)
	for _, v := range n {
		id += fmt.Sprintf("#%d", v)
	}
	return id
}

// subjectEscaper keeps the separator of entry ids out of their subject;
// subjectUnescaper reads it back.
var (
	subjectEscaper   = strings.NewReplacer("%", "%25", "#", "%23")
	subjectUnescaper = strings.NewReplacer("%23", "#", "%25", "%")
)

// EntrySubject reads the provider and the subject (the commission or
// payout) an entry id names; ok is false for an id of another form.
func EntrySubject(id string) (p Provider, subject string, ok bool) {
	parts := strings.SplitN(id, "#", 3)
	if len(parts) < 3 {
		return "", "", false
	}
	return Provider(parts[0]), subjectUnescaper.Replace(parts[1]), true
}

// moveEntryID is provider#subject#move#n#kind: the entries of a commission's
// n-th move to another account.
func moveEntryID(p Provider, subject string, n int64, kind EntryKind) string {
	return entryID(p, subject, "move", n) + "#" + string(kind)
}

// Balance is an account's four balances.
type Balance struct {
	Account Account
	Deltas
}

// Booked is an entry as the store wrote it, with its account's balances
// right after it: what the ledger's stream announces.
type Booked struct {
	Entry
	// After is the account's balances once the entry applied (and only
	// the entries written before it in the same write).
	After Deltas
}

// BookAll returns the entries of one write to one account with the
// balances after each: after is the balances once all of them applied,
// entries are in the order they were written.
func BookAll(entries []Entry, after Deltas) []Booked {
	out := make([]Booked, len(entries))
	for i := len(entries) - 1; i >= 0; i-- {
		out[i] = Booked{Entry: entries[i], After: after}
		after = after.Sub(entries[i].Deltas)
	}
	return out
}
