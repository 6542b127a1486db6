package agentref

import (
	"context"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// DefaultCurrency applies where a payload names none.
const DefaultCurrency = "usd"

// Platform is AgentRef behind the reward.Platform port: its webhook events
// decoded once into what they ask of the ledger. Its deliveries need
// nothing from the API, and AgentRef is not told of deliveries.
type Platform struct {
	// Currency applies where a payload names none.
	Currency string
}

var _ reward.Platform = (*Platform)(nil)

// Provider is reward.AgentRef.
func (p *Platform) Provider() reward.Provider { return reward.AgentRef }

// Prepare decodes the deliveries; it reads nothing from the platform.
func (p *Platform) Prepare(_ context.Context, ds []reward.Delivery) (reward.Prepared, error) {
	b := &batch{currency: p.Currency, events: make([]Event, len(ds)), errs: make([]error, len(ds)), received: make([]time.Time, len(ds))}
	for i, d := range ds {
		b.events[i], b.errs[i] = ParseEvent(d.Body)
		b.received[i] = d.ReceivedAt
	}
	return b, nil
}

type batch struct {
	currency string
	events   []Event
	errs     []error
	received []time.Time
}

// Lane is the affiliate the event names: a hold and the conversions it
// holds share one.
func (b *batch) Lane(i int) string {
	if b.errs[i] != nil {
		return ""
	}
	if who := b.events[i].Recipient(); who != "" {
		return "agentref#affiliate#" + who
	}
	return ""
}

// Request is the event's request; an approval that posts carries whether
// its affiliate is held.
func (b *batch) Request(ctx context.Context, i int, ledger reward.LedgerReader) (reward.Request, error) {
	if b.errs[i] != nil {
		return reward.Request{}, b.errs[i]
	}
	req, err := b.events[i].Request(b.currency, b.received[i])
	if err != nil {
		return req, err
	}
	if in := req.Intent; in != nil {
		if err := readHold(ctx, ledger, in); err != nil {
			return reward.Request{}, err
		}
	}
	return req, nil
}

// readHold reads, for an intent that may post, whether its affiliate is
// held: the ledger's write then checks the hold is still so
// (reward.Intent.HoldKnown), since a block may land in between.
func readHold(ctx context.Context, ledger reward.LedgerReader, in *reward.Intent) error {
	if !in.Posts() {
		return nil
	}
	held, err := ledger.Held(ctx, in.Provider, in.Account.Recipient)
	if err != nil {
		return err
	}
	in.Held, in.HoldKnown = held, true
	return nil
}
