// Package wiring builds, once per cold start, what the processor and the
// reconciler (and the local stack, which runs the same handlers) need from
// their configuration: the processor, the platform clients and the
// reconciler. It is the one place that knows which variable configures them.
package wiring

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/agentref"
	"github.com/rewardrelay/rewardrelay/shared/dynamo"
	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/relay"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
)

// ErrNoTable means TABLE_NAME is not set.
var ErrNoTable = errors.New("TABLE_NAME is not set")

// The platform clients send through telemetry.PlatformAnswers, which counts
// their 429 and 5xx answers for the functions' metric lines.

// Processor builds the processor on the ledger table through db. Its
// FirstPromoter client is nil (with a logged error) when the account is not
// configured: FirstPromoter events then fail and wait in the queue.
func Processor(get func(string) string, db dynamo.API, table string, log *slog.Logger) (*relay.Processor, error) {
	if table == "" {
		return nil, ErrNoTable
	}
	cfg, err := relay.ParseConfig(get)
	if err != nil {
		return nil, err
	}
	rules, err := firstpromoter.ParseRules(get)
	if err != nil {
		return nil, err
	}
	var fp firstpromoter.ProcessAPI
	if c := FirstPromoter(get, db, table); c != nil {
		fp = c
	} else {
		log.Error("FIRSTPROMOTER_API_KEY or FIRSTPROMOTER_ACCOUNT_ID is not set: FirstPromoter events will fail and wait in the queue")
	}
	return &relay.Processor{Store: &dynamo.Store{Client: db, Table: table}, Platforms: Platforms(rules, fp), Config: cfg, Log: log, Now: time.Now}, nil
}

// Platforms are the platforms the processor runs, one line each; fp is nil
// when FirstPromoter's account is not configured.
func Platforms(rules firstpromoter.Rules, fp firstpromoter.ProcessAPI) []reward.Platform {
	return []reward.Platform{
		&firstpromoter.Platform{API: fp, Rules: rules},
		&agentref.Platform{Currency: agentref.DefaultCurrency},
	}
}

// firstPromoter is the processor's FirstPromoter platform; nil without one.
func firstPromoter(p *relay.Processor) *firstpromoter.Platform {
	for _, pl := range p.Platforms {
		if fp, ok := pl.(*firstpromoter.Platform); ok {
			return fp
		}
	}
	return nil
}

// firstPromoterClient is the processor's FirstPromoter client; nil when
// the account is not configured.
func firstPromoterClient(p *relay.Processor) *firstpromoter.Client {
	if fp := firstPromoter(p); fp != nil {
		c, _ := fp.API.(*firstpromoter.Client)
		return c
	}
	return nil
}

// FirstPromoter is the account's API client, drawing on the budget every
// function shares; nil when the account is not configured.
func FirstPromoter(get func(string) string, db dynamo.API, table string) *firstpromoter.Client {
	key, account := get("FIRSTPROMOTER_API_KEY"), get("FIRSTPROMOTER_ACCOUNT_ID")
	if key == "" || account == "" {
		return nil
	}
	return &firstpromoter.Client{
		BaseURL: get("FIRSTPROMOTER_API_URL"), APIKey: key, AccountID: account,
		HTTP:   &http.Client{Timeout: 10 * time.Second, Transport: telemetry.PlatformAnswers},
		Budget: dynamo.FirstPromoterBudget(db, table, account),
	}
}

// Reconciler builds the reconciler around a processor: it reconciles
// FirstPromoter with the processor's client, and AgentRef when its API key
// is set.
func Reconciler(get func(string) string, p *relay.Processor) (*relay.Reconciler, error) {
	rc := &relay.Reconciler{Processor: p, Margin: 10 * time.Second}
	if rs, ok := p.Store.(reward.RedemptionStore); ok {
		rc.Redemptions = rs
	}
	var autoApprove time.Duration
	if v := get("FIRSTPROMOTER_AUTO_APPROVE_AFTER"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("FIRSTPROMOTER_AUTO_APPROVE_AFTER: %q is not a positive duration (e.g. 336h)", v)
		}
		autoApprove = d
	}
	lookback := 30 * 24 * time.Hour
	if v := get("RECONCILE_LOOKBACK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("RECONCILE_LOOKBACK: %q is not a positive duration (e.g. 720h)", v)
		}
		lookback = d
	}
	if fp := firstPromoterClient(p); fp != nil {
		rc.Platforms = append(rc.Platforms, &firstpromoter.Reconciliation{API: fp, Rules: firstPromoter(p).Rules, AutoApproveAfter: autoApprove, Lookback: lookback})
	}
	if key := get("AGENTREF_API_KEY"); key != "" {
		ar := &agentref.Client{BaseURL: get("AGENTREF_API_URL"), APIKey: key, HTTP: &http.Client{Timeout: 20 * time.Second, Transport: telemetry.PlatformAnswers}}
		rc.Platforms = append(rc.Platforms, &agentref.Reconciliation{API: ar, Currency: agentref.DefaultCurrency})
	} else {
		p.Log.Warn("AGENTREF_API_KEY is not set: AgentRef is not reconciled (and its approvals are never posted)")
	}
	return rc, nil
}
