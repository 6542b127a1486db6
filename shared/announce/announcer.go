package announce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rewardrelay/rewardrelay/shared/bus"
	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// Bus publishes events.
type Bus interface {
	// Publish returns, per event, nil when the bus accepted it and why
	// not otherwise.
	Publish(ctx context.Context, events []bus.Event) ([]error, bus.Stats)
}

// FirstPromoter is the part of FirstPromoter's API the merchant's own ids
// come from.
type FirstPromoter interface {
	Promoters(ctx context.Context, ids []int64) ([]firstpromoter.Promoter, error)
	Commissions(ctx context.Context, ids []int64) ([]firstpromoter.Commission, error)
}

// maxKnown bounds the merchant ids kept between batches.
const maxKnown = 50_000

// Announcer publishes the ledger entries of stream records.
type Announcer struct {
	Bus Bus
	// FirstPromoter gives promoters' cust_id and referrals' uid (nil: the
	// account is not configured, and FirstPromoter events carry none).
	FirstPromoter FirstPromoter
	Log           *slog.Logger
	Now           func() time.Time

	mu sync.Mutex
	// known are the merchant's ids found so far: by "promoter:<id>" a
	// promoter's cust_id, by "commission:<id>" its referral's uid (nil:
	// the platform gives none).
	known map[string]*string
}

// Result is what one batch of records came to.
type Result struct {
	// Failed are the sequence numbers of the records whose entries were
	// not all published, in the order of the batch.
	Failed []string
	// Entries counts the ledger entries read; Published those the bus
	// accepted; Skipped the records that carry no ledger entry.
	Entries, Published, Skipped int
	Bus                         bus.Stats
	// Lags are, per published entry, the time from its write to its
	// publication.
	Lags []time.Duration
}

type pending struct {
	record int
	event  Event
}

// Announce publishes the entries of records. A record fails (and Lambda
// sends it again) when it cannot be read, when the platform's ids it needs
// cannot be had, or when the bus did not accept all of its events; the
// others' events are published whatever happens to it.
func (a *Announcer) Announce(ctx context.Context, records []events.DynamoDBEventRecord) Result {
	var res Result
	failed := make([]bool, len(records))
	booked := make([][]reward.Booked, len(records))
	for i, rec := range records {
		if rec.EventName == string(events.DynamoDBOperationTypeRemove) {
			res.Skipped++
			continue
		}
		b, err := dynamo.Booked(rec.Change.NewImage)
		if errors.Is(err, dynamo.ErrNotLedger) {
			res.Skipped++
			continue
		}
		if err != nil {
			a.Log.ErrorContext(ctx, "stream record cannot be read; it is retried, then sent to the on-failure destination", "sequence_number", rec.Change.SequenceNumber, "error", err.Error())
			failed[i] = true
			continue
		}
		booked[i] = b
		res.Entries += len(b)
	}
	unknown := a.lookup(ctx, booked)
	var out []pending
	for i, bs := range booked {
		for _, b := range bs {
			key := personKey(b)
			if unknown[key] {
				failed[i] = true
				break
			}
			ev, err := Of(b, a.merchantUserID(b, key))
			if err != nil {
				a.Log.ErrorContext(ctx, "ledger entry has no event; its record is retried, then sent to the on-failure destination", "entry_id", b.ID, "error", err.Error())
				failed[i] = true
				break
			}
			out = append(out, pending{record: i, event: ev})
		}
	}
	var send []bus.Event
	var sent []pending
	for _, p := range out {
		if failed[p.record] {
			continue
		}
		detail, err := json.Marshal(p.event.Detail)
		if err != nil {
			a.Log.ErrorContext(ctx, "event detail cannot be encoded", "entry_id", p.event.Detail.ID, "error", err.Error())
			failed[p.record] = true
			continue
		}
		send = append(send, bus.Event{DetailType: p.event.DetailType, Detail: detail, Time: p.event.At})
		sent = append(sent, p)
	}
	if len(send) > 0 {
		errs, st := a.Bus.Publish(ctx, send)
		res.Bus = st
		now := a.Now()
		for k, err := range errs {
			if err != nil {
				a.Log.WarnContext(ctx, "event not published; its record is retried", "entry_id", sent[k].event.Detail.ID, "detail_type", sent[k].event.DetailType, "error", err.Error())
				failed[sent[k].record] = true
				continue
			}
			res.Published++
			res.Lags = append(res.Lags, now.Sub(sent[k].event.At))
		}
	}
	for i, f := range failed {
		if f {
			res.Failed = append(res.Failed, records[i].Change.SequenceNumber)
		}
	}
	return res
}

// personKey names what an entry's merchant id is looked up by ("" when the
// platform gives none to look up).
func personKey(b reward.Booked) string {
	if b.Account.Provider != reward.FirstPromoter {
		// AgentRef's API has no id of the merchant's own for an affiliate
		// (its userId is AgentRef's user).
		return ""
	}
	kind, id, _ := strings.Cut(string(b.Account.Recipient), ":")
	switch kind {
	case "promoter":
		return "promoter:" + id
	case "referral":
		// The uid is the referral's, read from the commission: whether the
		// recipient's id is the uid or FirstPromoter's own referral id
		// only the platform can say.
		if s, cid, ok := strings.Cut(b.Subject, ":"); ok && s == "commission" {
			return "commission:" + cid
		}
	}
	return ""
}

func (a *Announcer) merchantUserID(b reward.Booked, key string) *string {
	if key == "" {
		return nil
	}
	a.mu.Lock()
	v := a.known[key]
	a.mu.Unlock()
	if v == nil {
		return nil
	}
	if strings.HasPrefix(key, "commission:") && reward.Referral(*v, "") != b.Account.Recipient {
		// The commission's referral has a uid now, but the reward went to
		// its FirstPromoter id: the uid is not this recipient's.
		return nil
	}
	id := *v
	return &id
}

// lookup finds the merchant ids the entries need and does not know yet: one
// promoters request and one commissions request at most (per 100 ids). It
// returns the keys it could not find out.
func (a *Announcer) lookup(ctx context.Context, booked [][]reward.Booked) map[string]bool {
	a.mu.Lock()
	if a.known == nil || len(a.known) > maxKnown {
		a.known = map[string]*string{}
	}
	var promoters, commissions []int64
	asked := map[string]bool{}
	for _, bs := range booked {
		for _, b := range bs {
			key := personKey(b)
			if _, ok := a.known[key]; key == "" || ok || asked[key] {
				continue
			}
			asked[key] = true
			kind, id, _ := strings.Cut(key, ":")
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil || n <= 0 {
				a.known[key] = nil // not an id the platform has
				continue
			}
			if kind == "promoter" {
				promoters = append(promoters, n)
			} else {
				commissions = append(commissions, n)
			}
		}
	}
	a.mu.Unlock()
	unknown := map[string]bool{}
	if len(promoters)+len(commissions) == 0 {
		return unknown
	}
	if a.FirstPromoter == nil {
		a.remember(asked, nil)
		return unknown
	}
	found := map[string]*string{}
	if len(promoters) > 0 {
		rows, err := a.FirstPromoter.Promoters(ctx, promoters)
		if err != nil {
			a.Log.WarnContext(ctx, "promoters cannot be read; their events are retried", "promoters", len(promoters), "error", err.Error())
			markAll(unknown, "promoter", promoters)
		}
		for _, p := range rows {
			if p.CustID != nil && *p.CustID != "" {
				found[fmt.Sprintf("promoter:%d", p.ID)] = p.CustID
			}
		}
	}
	if len(commissions) > 0 {
		rows, err := a.FirstPromoter.Commissions(ctx, commissions)
		if err != nil {
			a.Log.WarnContext(ctx, "commissions cannot be read for their referrals; their events are retried", "commissions", len(commissions), "error", err.Error())
			markAll(unknown, "commission", commissions)
		}
		for _, c := range rows {
			if c.Referral != nil && c.Referral.UID != "" {
				uid := c.Referral.UID
				found[fmt.Sprintf("commission:%d", c.ID)] = &uid
			}
		}
	}
	for key := range asked {
		if unknown[key] {
			delete(asked, key)
		}
	}
	a.remember(asked, found)
	return unknown
}

func (a *Announcer) remember(keys map[string]bool, found map[string]*string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for key := range keys {
		a.known[key] = found[key]
	}
}

func markAll(set map[string]bool, kind string, ids []int64) {
	for _, id := range ids {
		set[fmt.Sprintf("%s:%d", kind, id)] = true
	}
}
