package webhook

import (
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// The processor decodes every queued body into its own types
// (shared/relay/events.go) and retries, then dead-letters, a message it
// cannot decode or use. Ingest reads the same fields, per event type, with
// the processor's Go types or with shapes that accept no more than they
// do, and refuses what the processor could not use with a reason that names
// the field, while the platform can still be told: nothing the processor
// cannot decode reaches the queue.

// rule is one field the processor reads and what it must hold. A delivery
// is refused with "<path> must be <must>" when the field has the wrong JSON
// type, or when ok (nil: the type alone is checked) reports false.
type rule[T any] struct {
	path string
	must string
	ok   func(*T) bool
}

// apply checks v against rules, in order. typ is the type error decoding v
// met, if any (its Field is relative to prefix); a type error no rule names
// is left for the caller. Decoding goes on past a type error, so the other
// fields are set.
func apply[T any](v *T, typ *json.UnmarshalTypeError, prefix string, rules []rule[T]) error {
	for _, r := range rules {
		if typ != nil && prefix+typ.Field == r.path || r.ok != nil && !r.ok(v) {
			return reject(ErrMalformed, "%s must be %s", r.path, r.must)
		}
	}
	return nil
}

// decodeError sorts out what decoding a body returned: a syntax error or a
// body that is not an object is a refusal; a type error in a field is
// returned for the rules to name.
func decodeError(err error) (*json.UnmarshalTypeError, error) {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil, nil
	case errors.As(err, &syntax):
		return nil, reject(ErrMalformed, "body is not valid JSON (error at byte %d)", syntax.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return nil, reject(ErrMalformed, "body is a JSON %s; an object is expected", typ.Value)
	case errors.As(err, &typ):
		return typ, nil
	default:
		return nil, reject(ErrMalformed, "body is not a valid envelope")
	}
}

// unnamed refuses a type error that no rule named.
func unnamed(typ *json.UnmarshalTypeError, prefix string) error {
	if typ == nil {
		return nil
	}
	return reject(ErrMalformed, "%s must be %s", prefix+typ.Field, jsonKind(typ.Type.Kind().String()))
}

func jsonKind(goKind string) string {
	switch goKind {
	case "struct", "ptr", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	default:
		return "a number"
	}
}

// shape checks every occurrence of a key with its kind K, without decoding
// the value (or allocating): a null counts as absent (the processor's types
// all take a null); any other value K refuses marks the field invalid for
// good, so that a repeated key cannot hide a value the processor fails on.
// K accepts nothing the processor's own type for the field could not
// decode.
type shape[K kind] struct {
	present, invalid bool
}

// kind validates one raw JSON value (never null).
type kind interface {
	valid(raw []byte) bool
}

// UnmarshalJSON never fails: it records the value's validity for the rules.
func (f *shape[K]) UnmarshalJSON(raw []byte) error {
	if string(raw) == "null" {
		return nil
	}
	var k K
	if k.valid(raw) {
		f.present = true
	} else {
		f.invalid = true
	}
	return nil
}

// set reports a field present and valid; ok a field valid or absent.
func (f shape[K]) set() bool { return f.present && !f.invalid }
func (f shape[K]) ok() bool  { return !f.invalid }

// positiveInteger is a FirstPromoter id as the processor reads it (a
// json.Number, then a positive int64): a JSON number or a string holding
// one, from 1 to the largest int64, without sign, fraction or exponent.
type positiveInteger struct{}

func (positiveInteger) valid(raw []byte) bool {
	if len(raw) >= 2 && raw[0] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	if len(raw) == 0 || len(raw) > 19 || raw[0] < '1' || raw[0] > '9' {
		return false
	}
	var n uint64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + uint64(c-'0')
	}
	return n <= 1<<63-1
}

// MaxIDLength is the longest id (of an event, a commission, an affiliate, a
// payout, a referred customer) and currency queued, in bytes. The ledger's
// DynamoDB keys hold them, and a key over DynamoDB's limits (2048 bytes for
// a partition key, 1024 for a sort key) fails the processor until the
// message is dead-lettered; the platforms' ids are tens of bytes.
const MaxIDLength = 256

// MaxAmount is the largest amount the ledger stores (reward.MaxAmount): no
// balance can overflow.
const MaxAmount = 1_000_000_000_000

// shortID reports whether an id or currency fits MaxIDLength.
func shortID(s string) bool { return len(s) <= MaxIDLength }

// text is a JSON string (the value is valid JSON: a leading quote is a
// whole string).
type text struct{}

func (text) valid(raw []byte) bool { return raw[0] == '"' }

// idText is a JSON string of at most MaxIDLength bytes as written (escapes
// count as written: never shorter than what they decode to).
type idText struct{}

func (idText) valid(raw []byte) bool { return raw[0] == '"' && len(raw)-2 <= MaxIDLength }

// unitName is "" or one of firstPromoterUnits (written without escapes).
type unitName struct{}

func (unitName) valid(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' {
		return false
	}
	u := string(raw[1 : len(raw)-1]) // compared, not kept: no allocation
	return u == "" || knownUnit(u)
}

// statusPair is changes.status: an array of 2 strings ([old, new]; a null
// in it decodes, as the old status of a new commission may be).
type statusPair struct{}

func (statusPair) valid(raw []byte) bool {
	n := 0
	i := skipSpace(raw, 0)
	if i == len(raw) || raw[i] != '[' {
		return false
	}
	for i = skipSpace(raw, i+1); i < len(raw) && raw[i] != ']'; i = skipSpace(raw, i) {
		switch {
		case raw[i] == ',':
			i++
			continue
		case raw[i] == '"':
			i = endOfString(raw, i)
		case raw[i] == 'n': // null
			i += len("null")
		default:
			return false
		}
		n++
	}
	return n == 2
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// endOfString returns the index after the string that starts at b[i].
func endOfString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// firstPromoterEnvelope is how the processor decodes a FirstPromoter
// delivery, field for field: where ingest only checks a value's shape,
// the shape accepts nothing the processor's type rejects.
type firstPromoterEnvelope struct {
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	Changes   struct {
		Status shape[statusPair] `json:"status"`
	} `json:"changes"`
	Data *struct {
		ID       shape[positiveInteger] `json:"id"`
		Status   shape[text]            `json:"status"`
		Amount   int64                  `json:"amount"`
		Unit     shape[unitName]        `json:"unit"`
		Test     bool                   `json:"test"`
		Referral struct {
			ID  shape[positiveInteger] `json:"id"`
			UID shape[idText]          `json:"uid"`
		} `json:"referral"`
	} `json:"data"`
}

// firstPromoterEnvelopeRules are checked on every delivery that is not a
// test delivery.
var firstPromoterEnvelopeRules = []rule[firstPromoterEnvelope]{
	{"event_id", "a non-empty string", func(e *firstPromoterEnvelope) bool { return e.EventID != "" }},
	{"event_type", "a non-empty string", func(e *firstPromoterEnvelope) bool { return e.EventType != "" }},
	{"data", "an object", func(e *firstPromoterEnvelope) bool { return e.Data != nil }},
}

// firstPromoterUnits are the units the processor knows (cash is known, and
// never delivered).
var firstPromoterUnits = []string{"points", "credits", "free_months", "mon_discount", "discount_per", "cash"}

func knownUnit(u string) bool {
	for _, k := range firstPromoterUnits {
		if u == k {
			return true
		}
	}
	return false
}

// firstPromoterCommissionRules are checked on the commission events that
// are queued; the envelope rules have passed (Data is set).
var firstPromoterCommissionRules = []rule[firstPromoterEnvelope]{
	{"event_id", "at most 256 bytes", func(e *firstPromoterEnvelope) bool { return shortID(e.EventID) }},
	{"changes", "an object", nil},
	{"changes.status", "an array of 2 strings", func(e *firstPromoterEnvelope) bool { return e.Changes.Status.ok() }},
	{"data.id", "a positive integer", func(e *firstPromoterEnvelope) bool { return e.Data.ID.set() }},
	{"data.status", "a string", func(e *firstPromoterEnvelope) bool { return e.Data.Status.ok() }},
	{"data.amount", "an integer of at most 1000000000000", func(e *firstPromoterEnvelope) bool { return e.Data.Amount <= MaxAmount }},
	{"data.unit", "one of " + strings.Join(firstPromoterUnits, ", "), func(e *firstPromoterEnvelope) bool { return e.Data.Unit.ok() }},
	{"data.test", "a boolean", nil},
	{"data.referral", "an object", nil},
	{"data.referral.id", "a positive integer", func(e *firstPromoterEnvelope) bool { return e.Data.Referral.ID.ok() }},
	{"data.referral.uid", "a string of at most 256 bytes", func(e *firstPromoterEnvelope) bool { return e.Data.Referral.UID.ok() }},
}

// agentRefEnvelope is AgentRef's envelope as ingest checks it; the processor
// decodes id, type, environment and data with these types.
type agentRefEnvelope struct {
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	SchemaVersion *int            `json:"schemaVersion"`
	CreatedAt     string          `json:"createdAt"`
	MerchantID    string          `json:"merchantId"`
	Environment   string          `json:"environment"`
	Data          json.RawMessage `json:"data"`
}

var agentRefEnvelopeRules = []rule[agentRefEnvelope]{
	{"id", "a non-empty string", func(e *agentRefEnvelope) bool { return e.ID != "" }},
	{"type", "a non-empty string", func(e *agentRefEnvelope) bool { return e.Type != "" }},
	{"schemaVersion", "2", func(e *agentRefEnvelope) bool { return e.SchemaVersion != nil && *e.SchemaVersion == 2 }},
	{"createdAt", "an ISO 8601 (RFC 3339) time", func(e *agentRefEnvelope) bool {
		_, err := time.Parse(time.RFC3339, e.CreatedAt)
		return err == nil
	}},
	{"environment", "a non-empty string", func(e *agentRefEnvelope) bool { return e.Environment != "" }},
	{"data", "an object", func(e *agentRefEnvelope) bool { return len(e.Data) > 0 && e.Data[0] == '{' }},
}

// agentRefQueuedRules are checked on the events that are queued: their id
// is the event record's key.
var agentRefQueuedRules = []rule[agentRefEnvelope]{
	{"id", "at most 256 bytes", func(e *agentRefEnvelope) bool { return shortID(e.ID) }},
}

// agentRefConversion mirrors the processor's conversion: it accepts both
// names the docs use for the commission, as integers (cents).
type agentRefConversion struct {
	ID               string `json:"id"`
	AffiliateID      string `json:"affiliateId"`
	Currency         string `json:"currency"`
	CommissionAmount *int64 `json:"commissionAmount"`
	Commission       *int64 `json:"commission"`
	Status           string `json:"status"`
}

// agentRefAffiliate mirrors the processor's reading of affiliate and flag
// events.
type agentRefAffiliate struct {
	ID          string `json:"id"`
	AffiliateID string `json:"affiliateId"`
	Status      string `json:"status"`
}

// agentRefPayout mirrors the processor's payout.
type agentRefPayout struct {
	ID          string `json:"id"`
	AffiliateID string `json:"affiliateId"`
	Amount      *int64 `json:"amount"`
	Currency    string `json:"currency"`
	Status      string `json:"status"`
}

// storable reports whether an amount, when present, is one the ledger
// stores: 0 to MaxAmount.
func storable(n *int64) bool { return n == nil || *n >= 0 && *n <= MaxAmount }

var (
	conversionRules = []rule[agentRefConversion]{
		{"data.id", "a non-empty string of at most 256 bytes", func(c *agentRefConversion) bool { return c.ID != "" && shortID(c.ID) }},
		{"data.affiliateId", "a non-empty string of at most 256 bytes", func(c *agentRefConversion) bool { return c.AffiliateID != "" && shortID(c.AffiliateID) }},
		{"data.currency", "a string of at most 256 bytes", func(c *agentRefConversion) bool { return shortID(c.Currency) }},
		{"data.commissionAmount", "an integer from 0 to 1000000000000", func(c *agentRefConversion) bool { return storable(c.CommissionAmount) }},
		{"data.commission", "an integer from 0 to 1000000000000", func(c *agentRefConversion) bool { return storable(c.Commission) }},
		{"data.commissionAmount or data.commission", "present", func(c *agentRefConversion) bool {
			return c.CommissionAmount != nil || c.Commission != nil
		}},
		{"data.status", "a string", nil},
	}
	affiliateRules = []rule[agentRefAffiliate]{
		{"data.id", "a non-empty string of at most 256 bytes", func(a *agentRefAffiliate) bool { return a.ID != "" && shortID(a.ID) }},
		{"data.affiliateId", "a string", nil},
		{"data.status", "a string", nil},
	}
	flagRules = []rule[agentRefAffiliate]{
		{"data.id", "a string", nil},
		// The resolution decides whether the affiliate is held: without
		// it the event would change nothing, silently.
		{"data.status", "a string naming the flag's resolution", func(a *agentRefAffiliate) bool { return a.Status != "" }},
		{"data.affiliateId", "a non-empty string of at most 256 bytes when data.status is confirmed", func(a *agentRefAffiliate) bool {
			return a.Status != "confirmed" || a.AffiliateID != "" && shortID(a.AffiliateID)
		}},
	}
	payoutRules = []rule[agentRefPayout]{
		{"data.id", "a non-empty string of at most 256 bytes", func(p *agentRefPayout) bool { return p.ID != "" && shortID(p.ID) }},
		{"data.affiliateId", "a non-empty string of at most 256 bytes", func(p *agentRefPayout) bool { return p.AffiliateID != "" && shortID(p.AffiliateID) }},
		{"data.amount", "an integer from 0 to 1000000000000", func(p *agentRefPayout) bool { return p.Amount != nil && storable(p.Amount) }},
		{"data.currency", "a string of at most 256 bytes", func(p *agentRefPayout) bool { return shortID(p.Currency) }},
		{"data.status", "a string", nil},
	}
)

// agentRefData checks, per event type, the data the processor decodes.
// Handled types absent here (payout.created, payout.processing, program.*)
// are stored without their data being read.
var agentRefData = map[string]func(data []byte) error{
	"conversion.created":  checkData(conversionRules),
	"conversion.refunded": checkData(conversionRules),
	"affiliate.blocked":   checkData(affiliateRules),
	"affiliate.unblocked": checkData(affiliateRules),
	"flag.resolved":       checkData(flagRules),
	"payout.completed":    checkData(payoutRules),
	"payout.failed":       checkData(payoutRules),
}

// checkData decodes an envelope's data object into a T, as the processor
// does, and applies rules to it.
func checkData[T any](rules []rule[T]) func([]byte) error {
	return func(data []byte) error {
		var v T
		typ, err := decodeError(json.Unmarshal(data, &v))
		if err != nil {
			return err
		}
		if err := apply(&v, typ, "data.", rules); err != nil {
			return err
		}
		return unnamed(typ, "data.")
	}
}
