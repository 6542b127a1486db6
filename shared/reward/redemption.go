package reward

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Redemption entry kinds: a recipient spends what was delivered. A
// redemption posted at once is one entry; a hold is a pending debit that is
// captured (posted), voided or expires (voided); a posted redemption is
// reversed by a new entry, never edited.
const (
	KindRedeem        EntryKind = "redeem"         // available -> redeemed
	KindRedeemHold    EntryKind = "redeem_hold"    // available -> held
	KindRedeemCapture EntryKind = "redeem_capture" // held -> redeemed
	KindRedeemVoid    EntryKind = "redeem_void"    // held -> available
	KindRedeemReverse EntryKind = "redeem_reverse" // redeemed -> available
	// KindUndelivered takes a delivered reward out of available when the
	// merchant's own delivery of it failed; KindRedelivered puts it back.
	KindUndelivered EntryKind = "undelivered"
	KindRedelivered EntryKind = "redelivered"
)

// RedemptionStatus is a redemption's state.
type RedemptionStatus string

// Redemption states: held -> posted (capture) or voided (void, expiry);
// posted -> reversed.
const (
	RedemptionPosted   RedemptionStatus = "posted"
	RedemptionHeld     RedemptionStatus = "held"
	RedemptionVoided   RedemptionStatus = "voided"
	RedemptionReversed RedemptionStatus = "reversed"
)

// Limits of a redemption request.
const (
	DefaultHoldTTL     = 900 * time.Second
	MaxHoldTTL         = 7 * 24 * time.Hour
	MaxKeyLength       = 255
	MaxReferenceLength = 255
)

// Redemption is a recipient's spending of an available balance.
type Redemption struct {
	ID        string
	Account   Account
	Amount    int64
	Reference string
	Status    RedemptionStatus
	// HoldExpiresAt is when a hold voids itself; zero for a redemption
	// posted at once.
	HoldExpiresAt time.Time
	// Key is the caller's idempotency key and Fingerprint the digest of its
	// request: the same key with the same request replays the redemption.
	Key         string
	Fingerprint string
	// Actor is who asked for the redemption.
	Actor     string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version increments with every stored change; 0 means not stored.
	Version int64
}

// RedemptionRequest is what a caller asks to redeem.
type RedemptionRequest struct {
	Account   Account
	Amount    int64
	Reference string
	Hold      bool
	// HoldTTL is how long a hold lasts (DefaultHoldTTL when zero).
	HoldTTL time.Duration
	Key     string
	// Fingerprint identifies the request's content (the caller's body): a
	// key used again with another fingerprint is refused.
	Fingerprint string
	Actor       string
	At          time.Time
}

// RedemptionAction is a transition asked of a stored redemption.
type RedemptionAction string

// Redemption actions.
const (
	ActionCapture RedemptionAction = "capture"
	ActionVoid    RedemptionAction = "void"
	ActionReverse RedemptionAction = "reverse"
	// ActionExpire is the reconciler's void of a hold past its expiry.
	ActionExpire RedemptionAction = "expire"
)

// RedemptionChange is a planned redemption write: the redemption before
// (nil for a new one) and after, and the entries that move the balances.
// Unchanged is set when the redemption is already in the asked state:
// nothing is to be written.
type RedemptionChange struct {
	Before    *Redemption
	After     Redemption
	Entries   []Entry
	Unchanged bool
}

// Redemption errors.
var (
	// ErrKeyReused means an idempotency key was used again with another
	// request.
	ErrKeyReused = errors.New("reward: idempotency key used with another request")
	// ErrTransition means a redemption cannot make the asked transition
	// from its state (capture a voided hold).
	ErrTransition = errors.New("reward: redemption cannot make this transition")
	// ErrHoldExpired means a hold past its expiry cannot be captured.
	ErrHoldExpired = errors.New("reward: the hold has expired")
)

// Insufficient is the error of a redemption over the available balance.
type Insufficient struct {
	Available int64
}

func (e *Insufficient) Error() string {
	return fmt.Sprintf("reward: insufficient available balance (%d)", e.Available)
}

// RedemptionExists is the error of a new redemption whose id is stored:
// the idempotency key was used before. Current is the stored redemption.
type RedemptionExists struct {
	Current Redemption
}

func (e *RedemptionExists) Error() string {
	return fmt.Sprintf("reward: redemption %s exists", e.Current.ID)
}

// RedemptionMismatch is the error of a transition planned on a state that
// is no longer stored: plan again from Current.
type RedemptionMismatch struct {
	Current Redemption
}

func (e *RedemptionMismatch) Error() string {
	return fmt.Sprintf("reward: redemption %s is %s (version %d)", e.Current.ID, e.Current.Status, e.Current.Version)
}

// RedemptionID is the id of the redemption a recipient's idempotency key
// names: keys are scoped per recipient, and the id derived from both makes
// the redemption item its own idempotency record.
func RedemptionID(r Recipient, key string) string {
	sum := sha256.Sum256([]byte(string(r) + "\x00" + key))
	return "rdm_" + hex.EncodeToString(sum[:16])
}

// ValidKey reports whether an idempotency key is 1 to MaxKeyLength
// printable ASCII characters.
func ValidKey(k string) bool {
	if k == "" || len(k) > MaxKeyLength {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// Replays reports whether a request replays the stored redemption r: the
// same recipient's key with the same request content.
func (r Redemption) Replays(req RedemptionRequest) bool {
	return r.Key == req.Key && r.Fingerprint == req.Fingerprint && r.Account.Recipient == req.Account.Recipient
}

func redemptionSubject(id string) string { return "redemption:" + id }

func (r Redemption) entry(kind EntryKind, d Deltas, actor string, at time.Time) Entry {
	subject := redemptionSubject(r.ID)
	return Entry{ID: entryID(r.Account.Provider, subject, kind), Account: r.Account, Subject: subject, Kind: kind, Deltas: d, Actor: actor, At: at}
}

// PlanRedemption plans a new redemption: posted at once (available ->
// redeemed) or held (available -> held) until HoldTTL has passed. Whether
// the balance covers it is the store's condition, not the plan's: only the
// write sees the balance as it is. PlanRedemption is pure.
func PlanRedemption(req RedemptionRequest) (RedemptionChange, error) {
	switch {
	case !req.Account.Valid():
		return RedemptionChange{}, fmt.Errorf("account %s: %w", req.Account, ErrInvalid)
	case req.Amount <= 0 || req.Amount > MaxAmount:
		return RedemptionChange{}, fmt.Errorf("amount %d is not within 1 to %d: %w", req.Amount, int64(MaxAmount), ErrInvalid)
	case !ValidKey(req.Key):
		return RedemptionChange{}, fmt.Errorf("idempotency key: 1 to %d printable characters: %w", MaxKeyLength, ErrInvalid)
	case utf8.RuneCountInString(req.Reference) > MaxReferenceLength:
		return RedemptionChange{}, fmt.Errorf("reference of more than %d characters: %w", MaxReferenceLength, ErrInvalid)
	case req.HoldTTL < 0 || req.HoldTTL > MaxHoldTTL:
		return RedemptionChange{}, fmt.Errorf("hold ttl %s is not within 0 to %s: %w", req.HoldTTL, MaxHoldTTL, ErrInvalid)
	}
	r := Redemption{
		ID: RedemptionID(req.Account.Recipient, req.Key), Account: req.Account, Amount: req.Amount, Reference: req.Reference,
		Status: RedemptionPosted, Key: req.Key, Fingerprint: req.Fingerprint, Actor: req.Actor,
		CreatedAt: req.At, UpdatedAt: req.At, Version: 1,
	}
	kind, d := KindRedeem, Deltas{Available: -req.Amount, Redeemed: req.Amount}
	if req.Hold {
		ttl := req.HoldTTL
		if ttl == 0 {
			ttl = DefaultHoldTTL
		}
		r.Status, r.HoldExpiresAt = RedemptionHeld, req.At.Add(ttl)
		kind, d = KindRedeemHold, Deltas{Available: -req.Amount, Held: req.Amount}
	}
	return RedemptionChange{After: r, Entries: []Entry{r.entry(kind, d, req.Actor, req.At)}}, nil
}

// PlanRedemptionTransition plans an action on a stored redemption: capture
// (held -> posted), void and expire (held -> voided), reverse (posted ->
// reversed). An action whose state is already reached changes nothing
// (Unchanged); an impossible one is ErrTransition, a capture at or after
// the hold's expiry ErrHoldExpired, an expiry before it ErrTransition.
// PlanRedemptionTransition is pure.
func PlanRedemptionTransition(cur Redemption, action RedemptionAction, actor string, at time.Time) (RedemptionChange, error) {
	var from, to RedemptionStatus
	var kind EntryKind
	var d Deltas
	a := cur.Amount
	switch action {
	case ActionCapture:
		from, to, kind, d = RedemptionHeld, RedemptionPosted, KindRedeemCapture, Deltas{Held: -a, Redeemed: a}
	case ActionVoid, ActionExpire:
		from, to, kind, d = RedemptionHeld, RedemptionVoided, KindRedeemVoid, Deltas{Held: -a, Available: a}
	case ActionReverse:
		from, to, kind, d = RedemptionPosted, RedemptionReversed, KindRedeemReverse, Deltas{Redeemed: -a, Available: a}
	default:
		return RedemptionChange{}, fmt.Errorf("redemption action %q: %w", action, ErrInvalid)
	}
	// A reversal of a captured hold is still "posted -> reversed": the
	// capture's status is what counts, not how the redemption got there.
	if cur.Status == to {
		return RedemptionChange{Before: &cur, After: cur, Unchanged: true}, nil
	}
	if cur.Status != from {
		return RedemptionChange{}, fmt.Errorf("%s a redemption that is %s: %w", action, cur.Status, ErrTransition)
	}
	expired := !at.Before(cur.HoldExpiresAt)
	switch {
	case action == ActionCapture && expired:
		return RedemptionChange{}, fmt.Errorf("capture a hold that expired at %s: %w", cur.HoldExpiresAt.UTC().Format(time.RFC3339), ErrHoldExpired)
	case action == ActionExpire && !expired:
		return RedemptionChange{}, fmt.Errorf("expire a hold until %s: %w", cur.HoldExpiresAt.UTC().Format(time.RFC3339), ErrTransition)
	}
	after := cur
	after.Status, after.UpdatedAt, after.Version = to, at, cur.Version+1
	return RedemptionChange{Before: &cur, After: after, Entries: []Entry{cur.entry(kind, d, actor, at)}}, nil
}

// AuditRedemptions checks each redemption's entries against its status:
// posted -> its amount moved from available to redeemed; held -> from
// available to held; voided and reversed -> nothing.
func AuditRedemptions(entries []Entry, redemptions []Redemption) []Violation {
	sums := map[string]Deltas{}
	for _, e := range entries {
		if strings.HasPrefix(e.Subject, "redemption:") {
			sums[e.Subject] = sums[e.Subject].Add(e.Deltas)
		}
	}
	var out []Violation
	for _, r := range redemptions {
		subject := redemptionSubject(r.ID)
		want := Deltas{}
		switch r.Status {
		case RedemptionPosted:
			want = Deltas{Available: -r.Amount, Redeemed: r.Amount}
		case RedemptionHeld:
			want = Deltas{Available: -r.Amount, Held: r.Amount}
		}
		if got := sums[subject]; got != want {
			out = append(out, Violation{Subject: string(r.Account.Provider) + "/" + subject, Problem: fmt.Sprintf("entries sum to %+v; status %s with amount %d wants %+v", got, r.Status, r.Amount, want)})
		}
	}
	return out
}

// entryCursorTime is the fixed-width time of entry cursors and of the
// stores' sort keys, so that they sort as strings.
const entryCursorTime = "2006-01-02T15:04:05.000000000Z"

// maxEntrySortKey bounds an entry's sort key: DynamoDB keeps it, after
// "E#", in an index sort key of at most 1,024 bytes, so no stored entry has
// a longer cursor, and a longer one is refused here rather than by the
// store's query.
const maxEntrySortKey = 1022

// EntrySortKey orders a recipient's entries: by time, then id. Newest
// first is this key descending.
func EntrySortKey(e Entry) string {
	return e.At.UTC().Format(entryCursorTime) + "#" + e.ID
}

// EntryCursor is the opaque position after entry e in a newest-first
// listing.
func EntryCursor(e Entry) string {
	return base64.RawURLEncoding.EncodeToString([]byte(EntrySortKey(e)))
}

// ParseEntryCursor reads a cursor back as the entry sort key and id it
// names; ErrInvalid for anything EntryCursor did not write.
func ParseEntryCursor(c string) (sortKey, id string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) <= len(entryCursorTime)+1 || len(b) > maxEntrySortKey || b[len(entryCursorTime)] != '#' {
		return "", "", fmt.Errorf("cursor: %w", ErrInvalid)
	}
	if _, err := time.Parse(entryCursorTime, string(b[:len(entryCursorTime)])); err != nil {
		return "", "", fmt.Errorf("cursor: %w", ErrInvalid)
	}
	if _, _, ok := EntrySubject(string(b[len(entryCursorTime)+1:])); !ok {
		return "", "", fmt.Errorf("cursor: %w", ErrInvalid)
	}
	return string(b), string(b[len(entryCursorTime)+1:]), nil
}
