package firstpromoter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// StandingsAPI tells where the platform shows commissions.
type StandingsAPI interface {
	Standings(ctx context.Context, ids []int64) (map[int64]Standing, error)
}

// FulfilmentAPI is what acknowledging delivered rewards asks of the
// platform.
type FulfilmentAPI interface {
	MarkFulfilled(ctx context.Context, ids []int64) (BatchResult, error)
	StandingsAPI
}

// UnfulfilmentAPI is what telling the platform of failed deliveries asks
// of it.
type UnfulfilmentAPI interface {
	MarkUnfulfilled(ctx context.Context, ids []int64) (BatchResult, error)
	StandingsAPI
}

// Fulfilments tells FirstPromoter of delivered rewards through API.
type Fulfilments struct{ API FulfilmentAPI }

var _ reward.Acknowledger = Fulfilments{}

// Acknowledge sends ids to mark_fulfilled and settles the answer. A
// request refused whole (422) is sent again with only the ids the platform
// lists as approved and unfulfilled, split in halves until the id it
// refuses is alone, so one commission never holds back the others. An id
// is acknowledged only when the platform confirms it or shows it
// fulfilled. The error is the platform's when it could not be reached or
// asked: the ids it concerns have no verdict. Ids that are not FirstPromoter
// ids are left out.
func (f Fulfilments) Acknowledge(ctx context.Context, ids []string) (*reward.Settlement, error) {
	return settled(ids, func(s *settlement) error { return s.send(ctx, f.API, s.ids, nil) })
}

// SettleBatch settles a finished asynchronous mark_fulfilled batch that
// covered ids, as Acknowledge settles a synchronous answer: the whole batch
// at once, so that its failure count is read against every id it covered.
func SettleBatch(ctx context.Context, api StandingsAPI, ids []string, res BatchResult) (*reward.Settlement, error) {
	return settled(ids, func(s *settlement) error { return s.settle(ctx, api, s.ids, answerOf(res)) })
}

// Unfulfilments tells FirstPromoter of failed deliveries through API.
type Unfulfilments struct{ API UnfulfilmentAPI }

var _ reward.Unfulfiller = Unfulfilments{}

// Unfulfil sends ids to mark_unfulfilled and settles the answer as
// Acknowledge does, the other way round: an id is confirmed (acknowledged)
// when the platform no longer shows it fulfilled; a request refused whole
// (422) is sent again with the ids it still shows fulfilled, in halves,
// until the id it refuses is alone.
func (u Unfulfilments) Unfulfil(ctx context.Context, ids []string) (*reward.Settlement, error) {
	return settled(ids, func(s *settlement) error { return s.sendUnfulfil(ctx, u.API, s.ids, nil) })
}

// settlement builds a reward.Settlement from the platform's integer ids,
// naming each commission as the ledger does.
type settlement struct {
	ids   []int64
	names map[int64]string
	out   *reward.Settlement
}

// settled has f settle the FirstPromoter ids among ids (none: nothing to
// settle) and returns the settlement it built, beside f's error.
func settled(ids []string, f func(s *settlement) error) (*reward.Settlement, error) {
	s := newSettlement(ids)
	if len(s.ids) == 0 {
		return s.out, nil
	}
	err := f(s)
	return s.out, err
}

func newSettlement(ids []string) *settlement {
	s := &settlement{names: map[int64]string{}, out: reward.NewSettlement()}
	for _, name := range ids {
		if id, err := strconv.ParseInt(name, 10, 64); err == nil {
			s.ids = append(s.ids, id)
			s.names[id] = name
		}
	}
	return s
}

func (s *settlement) name(id int64) string {
	if n, ok := s.names[id]; ok {
		return n
	}
	return strconv.FormatInt(id, 10)
}

func (s *settlement) acknowledged(id int64)               { s.out.Acknowledged[s.name(id)] = true }
func (s *settlement) refused(id int64, reason string)     { s.out.Refused[s.name(id)] = reason }
func (s *settlement) unconfirmed(id int64, reason string) { s.out.Unconfirmed[s.name(id)] = reason }

// send sends ids; standing, when known, is where the platform showed them.
func (s *settlement) send(ctx context.Context, api FulfilmentAPI, ids []int64, standing map[int64]Standing) error {
	res, err := api.MarkFulfilled(ctx, ids)
	switch {
	case errors.Is(err, ErrInvalid):
		return s.refusedWhole(ctx, api, ids, standing, err)
	case err != nil:
		return fmt.Errorf("mark_fulfilled %d commissions: %w", len(ids), err)
	case res.Async:
		if res.ID != "" {
			for _, id := range ids {
				s.out.Batches[string(res.ID)] = append(s.out.Batches[string(res.ID)], s.name(id))
			}
		}
		return nil
	}
	return s.settle(ctx, api, ids, answerOf(res))
}

// refusalReason is the platform's reason for refusing a request whole.
func refusalReason(refusal error) string {
	var apiErr *APIError
	if errors.As(refusal, &apiErr) && (apiErr.Message != "" || apiErr.Code != "") {
		return bounded(strings.TrimSpace(apiErr.Code + " " + apiErr.Message))
	}
	return "the platform refused the request"
}

// refusedWhole settles a request the platform refused whole: ids it shows
// fulfilled (a repeat it refuses) are acknowledged, ids it does not list
// approved wait for their reversal, and the rest are sent again, in halves
// when they were all in the refused request; one refused alone is refused.
func (s *settlement) refusedWhole(ctx context.Context, api FulfilmentAPI, ids []int64, standing map[int64]Standing, refusal error) error {
	reason := refusalReason(refusal)
	if standing == nil {
		var err error
		if standing, err = api.Standings(ctx, ids); err != nil {
			return fmt.Errorf("ask which of %d commissions are fulfilled: %w", len(ids), err)
		}
	}
	var open []int64
	for _, id := range ids {
		switch standing[id] {
		case Fulfilled:
			s.acknowledged(id)
		case Unfulfillable:
			s.unconfirmed(id, "the platform does not show it approved: "+reason)
		default:
			open = append(open, id)
		}
	}
	return s.narrow(ctx, len(ids), open, reason, func(ctx context.Context, ids []int64) error { return s.send(ctx, api, ids, standing) })
}

// narrow goes on with the ids of a refused request the platform's
// standing leaves open: sent again if the standing settled some of the
// asked ones, refused if one is left alone, else sent again in two halves,
// so that one refused id never holds back the others.
func (s *settlement) narrow(ctx context.Context, asked int, open []int64, reason string, send func(context.Context, []int64) error) error {
	switch {
	case len(open) == 0:
		return nil
	case len(open) < asked:
		return send(ctx, open)
	case len(open) == 1:
		s.refused(open[0], reason)
		return nil
	}
	half := len(open) / 2
	return errors.Join(send(ctx, open[:half]), send(ctx, open[half:]))
}

// answer is what the platform said of a set of ids.
type answer struct {
	confirmed bool
	// refusals is how many of the ids it failed one by one; named are
	// those whose id it gave.
	refusals int
	named    map[int64]string
	// outcome describes the answer; messages are its error messages.
	outcome  string
	messages string
}

// answerOf reads a finished batch.
func answerOf(res BatchResult) answer {
	return answer{
		confirmed: res.Confirmed(), refusals: res.Refusals(), named: res.FailedIDs(),
		outcome:  fmt.Sprintf("batch %s, %d of %d failed", res.Status, res.FailedCount, res.Total),
		messages: strings.Join(res.Messages(), "; "),
	}
}

// reason is why an id was not confirmed: its own message, else the
// answer's messages, else the answer, bounded (a batch of 100 may carry 100
// messages).
func (a answer) reason(id int64) string {
	msg := a.named[id]
	if msg == "" {
		msg = a.messages
	}
	if msg == "" {
		msg = a.outcome
	}
	return bounded(msg)
}

// maxReason bounds a stored reason: a batch of 100 may carry 100 messages.
const maxReason = 300

func bounded(reason string) string {
	if len(reason) > maxReason {
		// Cut on a character boundary: DynamoDB stores only valid UTF-8.
		return strings.ToValidUTF8(reason[:maxReason], "") + "..."
	}
	return reason
}

// settle records a finished answer for ids. Anything short of a plain
// success is checked against the platform's state: an id is acknowledged
// only when the platform shows it fulfilled.
func (s *settlement) settle(ctx context.Context, api StandingsAPI, ids []int64, a answer) error {
	if a.confirmed {
		for _, id := range ids {
			s.acknowledged(id)
		}
		return nil
	}
	standing, err := api.Standings(ctx, ids)
	if err != nil {
		return fmt.Errorf("ask which of %d commissions are fulfilled: %w", len(ids), err)
	}
	var left []int64
	for _, id := range ids {
		if standing[id] == Fulfilled {
			s.acknowledged(id)
		} else {
			left = append(left, id)
		}
	}
	// Refusals that add up to the ids left unfulfilled name them.
	accounted := a.refusals > 0 && a.refusals == len(left)
	for _, id := range left {
		_, named := a.named[id]
		switch {
		case standing[id] == Unfulfillable:
			// Denied or removed on the platform: its reversal takes it out
			// of the outbox.
			s.unconfirmed(id, "the platform does not show it approved: "+a.reason(id))
		case named || accounted:
			s.refused(id, a.reason(id))
		default:
			s.unconfirmed(id, "not confirmed by the platform ("+a.outcome+")")
		}
	}
	return nil
}

func (s *settlement) sendUnfulfil(ctx context.Context, api UnfulfilmentAPI, ids []int64, standing map[int64]Standing) error {
	res, err := api.MarkUnfulfilled(ctx, ids)
	switch {
	case errors.Is(err, ErrInvalid):
		return s.unfulfilRefusedWhole(ctx, api, ids, standing, err)
	case err != nil:
		return fmt.Errorf("mark_unfulfilled %d commissions: %w", len(ids), err)
	case res.Async:
		// Not expected within the synchronous limit; the next run sends
		// them again (mark_unfulfilled twice leaves them unfulfilled).
		for _, id := range ids {
			s.unconfirmed(id, "the platform is still processing mark_unfulfilled (batch "+string(res.ID)+")")
		}
		return nil
	}
	a := answerOf(res)
	if a.confirmed {
		for _, id := range ids {
			s.acknowledged(id)
		}
		return nil
	}
	if standing, err = api.Standings(ctx, ids); err != nil {
		return fmt.Errorf("ask which of %d commissions are fulfilled: %w", len(ids), err)
	}
	var left []int64
	for _, id := range ids {
		if standing[id] != Fulfilled {
			s.acknowledged(id)
		} else {
			left = append(left, id)
		}
	}
	accounted := a.refusals > 0 && a.refusals == len(left)
	for _, id := range left {
		if _, named := a.named[id]; named || accounted {
			s.refused(id, a.reason(id))
		} else {
			s.unconfirmed(id, "not confirmed by the platform ("+a.outcome+")")
		}
	}
	return nil
}

// unfulfilRefusedWhole settles a mark_unfulfilled the platform refused
// whole: ids it no longer shows fulfilled are confirmed, the rest are sent
// again, in halves when they were all in the refused request; one refused
// alone is refused.
func (s *settlement) unfulfilRefusedWhole(ctx context.Context, api UnfulfilmentAPI, ids []int64, standing map[int64]Standing, refusal error) error {
	reason := refusalReason(refusal)
	if standing == nil {
		var err error
		if standing, err = api.Standings(ctx, ids); err != nil {
			return fmt.Errorf("ask which of %d commissions are fulfilled: %w", len(ids), err)
		}
	}
	var open []int64
	for _, id := range ids {
		if standing[id] == Fulfilled {
			open = append(open, id)
		} else {
			s.acknowledged(id)
		}
	}
	return s.narrow(ctx, len(ids), open, reason, func(ctx context.Context, ids []int64) error { return s.sendUnfulfil(ctx, api, ids, standing) })
}
