package rewardsapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// redemptionRequest is the body of POST .../redemptions.
type redemptionRequest struct {
	Provider       *string      `json:"provider"`
	Unit           *string      `json:"unit"`
	Currency       *string      `json:"currency"`
	Amount         *json.Number `json:"amount"`
	Reference      *string      `json:"reference"`
	Hold           *bool        `json:"hold"`
	HoldTTLSeconds *json.Number `json:"hold_ttl_seconds"`
}

// RequestFields are the fields of a redemption request, in the contract's
// order.
var RequestFields = []string{"provider", "unit", "currency", "amount", "reference", "hold", "hold_ttl_seconds"}

// parseRedemption reads and checks a redemption request; a refusal names
// the field. The fingerprint is over the request as read (defaults
// applied), so that a replay with other spacing or key order is the same
// request.
func parseRedemption(body []byte) (reward.RedemptionRequest, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return reward.RedemptionRequest{}, invalidf("body", "must be a JSON object")
	}
	for name := range fields {
		known := false
		for _, f := range RequestFields {
			known = known || f == name
		}
		if !known {
			return reward.RedemptionRequest{}, invalidf(name, "is not a field of a redemption")
		}
	}
	var in redemptionRequest
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return reward.RedemptionRequest{}, invalidf(te.Field, "has the wrong type")
		}
		return reward.RedemptionRequest{}, invalidf("body", "must be a JSON object")
	}
	var out reward.RedemptionRequest
	if in.Provider == nil {
		return out, invalidf("provider", "is required: firstpromoter or agentref")
	}
	switch p := reward.Provider(*in.Provider); p {
	case reward.FirstPromoter, reward.AgentRef:
		out.Account.Provider = p
	default:
		return out, invalidf("provider", "must be firstpromoter or agentref")
	}
	if in.Unit == nil {
		return out, invalidf("unit", "is required")
	}
	u, err := reward.ParseUnit(*in.Unit)
	if err != nil {
		return out, invalidf("unit", "must be one of points, credits, free_months, mon_discount, discount_per, cash")
	}
	out.Account.Unit = u
	if in.Currency != nil {
		if len(*in.Currency) > reward.MaxIDLength {
			return out, invalidf("currency", "must be at most %d bytes", reward.MaxIDLength)
		}
		out.Account.Currency = *in.Currency
	}
	if in.Amount == nil {
		return out, invalidf("amount", "is required: an integer greater than 0")
	}
	amount, err := in.Amount.Int64()
	if err != nil || !isNumber(fields["amount"]) || amount <= 0 || amount > reward.MaxAmount {
		return out, invalidf("amount", "must be an integer from 1 to %d", int64(reward.MaxAmount))
	}
	out.Amount = amount
	if in.Reference != nil {
		if len([]rune(*in.Reference)) > reward.MaxReferenceLength {
			return out, invalidf("reference", "must be at most %d characters", reward.MaxReferenceLength)
		}
		out.Reference = *in.Reference
	}
	out.Hold = in.Hold != nil && *in.Hold
	out.HoldTTL = reward.DefaultHoldTTL
	if in.HoldTTLSeconds != nil {
		ttl, err := in.HoldTTLSeconds.Int64()
		if err != nil || !isNumber(fields["hold_ttl_seconds"]) || ttl < 1 || ttl > int64(reward.MaxHoldTTL/time.Second) {
			return out, invalidf("hold_ttl_seconds", "must be an integer from 1 to %d (7 days)", int64(reward.MaxHoldTTL/time.Second))
		}
		out.HoldTTL = time.Duration(ttl) * time.Second
	}
	if !out.Hold {
		out.HoldTTL = 0
	}
	canonical, _ := json.Marshal([]any{out.Account.Provider, out.Account.Unit, out.Account.Currency, out.Amount, out.Reference, out.Hold, int64(out.HoldTTL / time.Second)})
	sum := sha256.Sum256(canonical)
	out.Fingerprint = hex.EncodeToString(sum[:])
	return out, nil
}

// isNumber reports whether a JSON value is a number, not a string that a
// json.Number would also take.
func isNumber(raw json.RawMessage) bool {
	return len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9')
}

// BalancesBody answers GET .../balances.
type BalancesBody struct {
	Recipient string        `json:"recipient"`
	Balances  []BalanceBody `json:"balances"`
}

// BalanceBody is one balance of a recipient.
type BalanceBody struct {
	Provider  string `json:"provider"`
	Unit      string `json:"unit"`
	Currency  string `json:"currency"`
	Pending   int64  `json:"pending"`
	Available int64  `json:"available"`
	Reversed  int64  `json:"reversed"`
	Fulfilled int64  `json:"fulfilled"`
	Redeemed  int64  `json:"redeemed"`
	Held      int64  `json:"held"`
}

func balanceBody(b reward.Balance) BalanceBody {
	return BalanceBody{
		Provider: string(b.Account.Provider), Unit: string(b.Account.Unit), Currency: b.Account.Currency,
		Pending: b.Pending, Available: b.Available, Reversed: b.Reversed, Fulfilled: b.Fulfilled, Redeemed: b.Redeemed, Held: b.Held,
	}
}

// EntriesBody answers GET .../entries.
type EntriesBody struct {
	Entries    []EntryBody `json:"entries"`
	NextCursor *string     `json:"next_cursor"`
}

// EntryBody is one ledger entry. Amount is what the entry moves (its
// largest change to a balance, unsigned); its kind says from where to
// where.
type EntryBody struct {
	ID           string  `json:"id"`
	Provider     string  `json:"provider"`
	Kind         string  `json:"kind"`
	Unit         string  `json:"unit"`
	Currency     string  `json:"currency"`
	Amount       int64   `json:"amount"`
	CommissionID *string `json:"commission_id"`
	RedemptionID *string `json:"redemption_id"`
	Actor        *string `json:"actor"`
	CreatedAt    string  `json:"created_at"`
}

func entryBody(e reward.Entry) EntryBody {
	out := EntryBody{
		ID: e.ID, Provider: string(e.Account.Provider), Kind: string(e.Kind), Unit: string(e.Account.Unit),
		Currency: e.Account.Currency, CreatedAt: e.At.UTC().Format(time.RFC3339Nano),
	}
	for _, v := range []int64{e.Deltas.Pending, e.Deltas.Available, e.Deltas.Reversed, e.Deltas.Fulfilled, e.Deltas.Redeemed, e.Deltas.Held} {
		out.Amount = max(out.Amount, v, -v)
	}
	if id, ok := strings.CutPrefix(e.Subject, "commission:"); ok {
		out.CommissionID = &id
	}
	if id, ok := strings.CutPrefix(e.Subject, "redemption:"); ok {
		out.RedemptionID = &id
	}
	if e.Actor != "" {
		actor := e.Actor
		out.Actor = &actor
	}
	return out
}

// RedemptionBody is a redemption as the API answers it.
type RedemptionBody struct {
	ID            string  `json:"id"`
	Recipient     string  `json:"recipient"`
	Provider      string  `json:"provider"`
	Unit          string  `json:"unit"`
	Currency      string  `json:"currency"`
	Amount        int64   `json:"amount"`
	Reference     string  `json:"reference"`
	Status        string  `json:"status"`
	HoldExpiresAt *string `json:"hold_expires_at"`
	CreatedAt     string  `json:"created_at"`
}

func redemptionBody(r reward.Redemption) RedemptionBody {
	out := RedemptionBody{
		ID: r.ID, Recipient: string(r.Account.Recipient), Provider: string(r.Account.Provider), Unit: string(r.Account.Unit),
		Currency: r.Account.Currency, Amount: r.Amount, Reference: r.Reference, Status: string(r.Status),
		CreatedAt: r.CreatedAt.UTC().Format(time.RFC3339Nano),
	}
	if !r.HoldExpiresAt.IsZero() {
		at := r.HoldExpiresAt.UTC().Format(time.RFC3339Nano)
		out.HoldExpiresAt = &at
	}
	return out
}

// ErrorBody is every error answer; Available is set on a redemption over
// the available balance.
type ErrorBody struct {
	Error     string `json:"error"`
	Available *int64 `json:"available,omitempty"`
}
