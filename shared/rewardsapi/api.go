// Package rewardsapi is the Rewards API: the merchant's product reads a
// recipient's balances and entries and spends rewards through redemptions
// (posted, or held then captured, voided or expired) with Stripe's
// idempotency-key semantics. It turns HTTP requests, as API Gateway routes
// them, into ledger reads and writes and answers in JSON; status codes are
// chosen in one place (status.go).
package rewardsapi

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/httpretry"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// Store is what the API reads and writes.
type Store interface {
	reward.RedemptionStore
	// Commission and Apply are the ledger's (reward.Store): a commission's
	// delivery fails or is made again through the ledger's own write.
	Commission(ctx context.Context, p reward.Provider, id string) (reward.Commission, error)
	Apply(ctx context.Context, ev reward.EventRecord, change reward.Change) error
}

// Route keys of the API, as the HTTP API names its routes.
const (
	RouteBalances    = "GET /v1/recipients/{recipient}/balances"
	RouteEntries     = "GET /v1/recipients/{recipient}/entries"
	RouteRedemptions = "POST /v1/recipients/{recipient}/redemptions"
	RouteCapture     = "POST /v1/redemptions/{id}/capture"
	RouteVoid        = "POST /v1/redemptions/{id}/void"
	RouteReverse     = "POST /v1/redemptions/{id}/reverse"
)

// Routes lists every route the API serves.
func Routes() []string {
	return []string{RouteBalances, RouteEntries, RouteRedemptions, RouteCapture, RouteVoid, RouteReverse, RouteDeliveryFailed, RouteRedeliver}
}

// Entry listing limits.
const (
	DefaultLimit = 50
	MaxLimit     = 100
)

// conflictRetries bounds the retries of a write that a concurrent
// transaction got in the way of; conflictBackoff is the first wait's
// ceiling, doubled after each conflict up to conflictBackoffMax, each wait
// a random part of it (full jitter), so that writers on one hot balance
// spread out instead of colliding again.
const (
	conflictRetries    = 20
	conflictBackoff    = 2 * time.Millisecond
	conflictBackoffMax = 100 * time.Millisecond
)

// Request is one call as the HTTP API routes it.
type Request struct {
	// Route is the matched route key ("GET /v1/recipients/{recipient}/balances").
	Route string
	// Params are the path parameters, as the gateway passes them.
	Params map[string]string
	// Query is the raw query string.
	Query string
	// Header returns a request header by its lowercase name.
	Header func(name string) string
	Body   []byte
	// Actor is the caller (its IAM ARN; "local" on the local stack).
	Actor string
}

// Response is the API's answer.
type Response struct {
	Status int
	Header map[string]string
	Body   any
	// Outcome names what happened, for the log line: ok, replayed,
	// invalid, not_found, insufficient, conflict, key_reused,
	// unavailable.
	Outcome string
	// Err is the internal error behind a 5xx: logged, never answered.
	Err error
}

// API answers Rewards API requests.
type API struct {
	Store Store
	Now   func() time.Time
	// Sleep waits between retries of a conflicting write, or fails with
	// the context (nil: a real wait).
	Sleep func(ctx context.Context, d time.Duration) error
}

// backoff waits before retrying a write that met its conflicts-th
// concurrent one (from 1).
func (a API) backoff(ctx context.Context, conflicts int) error {
	ceiling := min(conflictBackoff<<min(conflicts-1, 16), conflictBackoffMax)
	d := rand.N(ceiling)
	if a.Sleep != nil {
		return a.Sleep(ctx, d)
	}
	return httpretry.Sleep(ctx, d)
}

// Serve answers one request.
func (a API) Serve(ctx context.Context, r Request) Response {
	switch r.Route {
	case RouteBalances:
		return a.balances(ctx, r)
	case RouteEntries:
		return a.entries(ctx, r)
	case RouteRedemptions:
		return a.redeem(ctx, r)
	case RouteCapture:
		return a.transition(ctx, r, reward.ActionCapture)
	case RouteVoid:
		return a.transition(ctx, r, reward.ActionVoid)
	case RouteReverse:
		return a.transition(ctx, r, reward.ActionReverse)
	case RouteDeliveryFailed:
		return a.deliveryFailed(ctx, r)
	case RouteRedeliver:
		return a.redeliver(ctx, r)
	}
	return failure(errNoRoute)
}

var errNoRoute = errors.New("no such route")

// invalid is a request error that names its field.
type invalid struct {
	field, reason string
}

func (e *invalid) Error() string { return e.field + " " + e.reason }

func invalidf(field, format string, args ...any) error {
	return &invalid{field: field, reason: fmt.Sprintf(format, args...)}
}

// recipient reads the path's recipient, ":" raw or %3A-encoded.
func recipient(r Request) (reward.Recipient, error) {
	raw := r.Params["recipient"]
	s, err := url.PathUnescape(raw)
	if err != nil {
		return "", invalidf("recipient", "is not a valid path segment")
	}
	rc := reward.Recipient(s)
	_, id, _ := strings.Cut(s, ":")
	if !rc.Valid() || len(id) > reward.MaxIDLength {
		return "", invalidf("recipient", "must be promoter:<id>, referral:<uid or id> or affiliate:<id>")
	}
	return rc, nil
}

func (a API) balances(ctx context.Context, r Request) Response {
	rc, err := recipient(r)
	if err != nil {
		return failure(err)
	}
	bs, err := a.Store.RecipientBalances(ctx, rc)
	if err != nil {
		return failure(err)
	}
	out := BalancesBody{Recipient: string(rc), Balances: []BalanceBody{}}
	for _, b := range bs {
		out.Balances = append(out.Balances, balanceBody(b))
	}
	return ok(http.StatusOK, out)
}

func (a API) entries(ctx context.Context, r Request) Response {
	rc, err := recipient(r)
	if err != nil {
		return failure(err)
	}
	q, err := url.ParseQuery(r.Query)
	if err != nil {
		return failure(invalidf("query", "is not a valid query string"))
	}
	limit := DefaultLimit
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > MaxLimit {
			return failure(invalidf("limit", "must be an integer from 1 to %d", MaxLimit))
		}
	}
	entries, next, err := a.Store.RecipientEntries(ctx, rc, limit, q.Get("cursor"))
	if errors.Is(err, reward.ErrInvalid) {
		return failure(invalidf("cursor", "is not a cursor this API returned"))
	}
	if err != nil {
		return failure(err)
	}
	out := EntriesBody{Entries: []EntryBody{}}
	for _, e := range entries {
		out.Entries = append(out.Entries, entryBody(e))
	}
	if next != "" {
		out.NextCursor = &next
	}
	return ok(http.StatusOK, out)
}

func (a API) redeem(ctx context.Context, r Request) Response {
	rc, err := recipient(r)
	if err != nil {
		return failure(err)
	}
	key := r.Header("idempotency-key")
	if !reward.ValidKey(key) {
		return failure(invalidf("Idempotency-Key", "header is required: 1 to %d printable characters", reward.MaxKeyLength))
	}
	req, err := parseRedemption(r.Body)
	if err != nil {
		return failure(err)
	}
	req.Account.Recipient, req.Key, req.Actor, req.At = rc, key, r.Actor, a.Now()
	c, err := reward.PlanRedemption(req)
	if err != nil {
		return failure(err)
	}
	for attempt := 1; ; attempt++ {
		err = a.Store.Redeem(ctx, c)
		if !errors.Is(err, reward.ErrConflict) || attempt == conflictRetries {
			break
		}
		if err = a.backoff(ctx, attempt); err != nil {
			return failure(err)
		}
	}
	var exists *reward.RedemptionExists
	switch {
	case errors.As(err, &exists):
		if !exists.Current.Replays(req) {
			return failure(errKeyReused)
		}
		resp := ok(http.StatusCreated, redemptionBody(exists.Current))
		resp.Header, resp.Outcome = map[string]string{"idempotent-replayed": "true"}, "replayed"
		return resp
	case err != nil:
		return failure(err)
	}
	return ok(http.StatusCreated, redemptionBody(c.After))
}

var errKeyReused = fmt.Errorf("the Idempotency-Key was used with another request: %w", reward.ErrKeyReused)

func (a API) transition(ctx context.Context, r Request, action reward.RedemptionAction) Response {
	id := r.Params["id"]
	if !strings.HasPrefix(id, "rdm_") || len(id) > 64 {
		return failure(fmt.Errorf("redemption %q: %w", id, reward.ErrNotFound))
	}
	cur, err := a.Store.Redemption(ctx, id)
	if err != nil {
		return failure(err)
	}
	for attempt := 1; attempt <= conflictRetries; attempt++ {
		c, err := reward.PlanRedemptionTransition(cur, action, r.Actor, a.Now())
		if err != nil {
			return failure(err)
		}
		if c.Unchanged {
			return ok(http.StatusOK, redemptionBody(cur))
		}
		err = a.Store.TransitionRedemption(ctx, c)
		var m *reward.RedemptionMismatch
		switch {
		case err == nil:
			return ok(http.StatusOK, redemptionBody(c.After))
		case errors.As(err, &m):
			cur = m.Current
		case errors.Is(err, reward.ErrConflict):
			if err := a.backoff(ctx, attempt); err != nil {
				return failure(err)
			}
			if cur, err = a.Store.Redemption(ctx, id); err != nil {
				return failure(err)
			}
		default:
			return failure(err)
		}
	}
	return failure(fmt.Errorf("redemption %s: %w", id, reward.ErrConflict))
}
