package simulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/agentref"
	"github.com/rewardrelay/rewardrelay/shared/firstpromoter"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

// The documented shapes, written from the platforms' published
// documents (FirstPromoter's OpenAPI schemas Commission and
// BatchOperationResponse; AgentRef's SDK types Conversion, Payout,
// Affiliate, Flag and PaginationMeta). A pointer may be null; a field
// tagged omitempty may be absent (AgentRef's optional nextCursor); every
// other field must be present, and no other field may be.

type fpCommission struct {
	ID                   int64          `json:"id"`
	Status               string         `json:"status"`
	Metadata             map[string]any `json:"metadata"`
	IsSelfReferral       *bool          `json:"is_self_referral"`
	CommissionType       string         `json:"commission_type"`
	CreatedByUserEmail   *string        `json:"created_by_user_email"`
	CreatedByUserAt      *time.Time     `json:"created_by_user_at"`
	SaleAmount           int64          `json:"sale_amount"`
	OriginalSaleAmount   int64          `json:"original_sale_amount"`
	OriginalSaleCurrency *string        `json:"original_sale_currency"`
	EventID              *string        `json:"event_id"`
	PlanID               *string        `json:"plan_id"`
	Tier                 int64          `json:"tier"`
	InternalNote         *string        `json:"internal_note"`
	ExternalNote         *string        `json:"external_note"`
	Unit                 string         `json:"unit"`
	FraudCheck           *string        `json:"fraud_check"`
	Amount               int64          `json:"amount"`
	IsPaid               bool           `json:"is_paid"`
	IsSplit              bool           `json:"is_split"`
	CreatedAt            time.Time      `json:"created_at"`
	StatusUpdatedAt      *time.Time     `json:"status_updated_at"`
	PromoterCampaign     struct {
		ID         int64     `json:"id"`
		CampaignID int64     `json:"campaign_id"`
		PromoterID int64     `json:"promoter_id"`
		CreatedAt  time.Time `json:"created_at"`
		Promoter   struct {
			ID    int64  `json:"id"`
			Email string `json:"email"`
			Name  string `json:"name"`
		} `json:"promoter"`
		Campaign struct {
			ID    int64   `json:"id"`
			Name  string  `json:"name"`
			Color *string `json:"color"`
		} `json:"campaign"`
	} `json:"promoter_campaign"`
	Referral *struct {
		ID    int64  `json:"id"`
		Email string `json:"email"`
		UID   string `json:"uid"`
	} `json:"referral"`
	Reward struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"reward"`
	SplitDetails *map[string]any `json:"split_details"`
}

type fpBatch struct {
	ID               int64           `json:"id"`
	Status           string          `json:"status"`
	Total            int             `json:"total"`
	SelectedTotal    int             `json:"selected_total"`
	ProcessedCount   int             `json:"processed_count"`
	FailedCount      int             `json:"failed_count"`
	ActionLabel      string          `json:"action_label"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
	Meta             *map[string]any `json:"meta"`
	Progress         int             `json:"progress"`
	ProcessingErrors []string        `json:"processing_errors"`
}

type arMeta struct {
	Total      int     `json:"total"`
	Page       int     `json:"page"`
	PageSize   int     `json:"pageSize"`
	HasMore    bool    `json:"hasMore"`
	NextCursor *string `json:"nextCursor,omitempty"`
	RequestID  string  `json:"requestId"`
}

type arConversion struct {
	ID              string    `json:"id"`
	AffiliateID     string    `json:"affiliateId"`
	ProgramID       string    `json:"programId"`
	Amount          float64   `json:"amount"`
	Commission      float64   `json:"commission"`
	Status          string    `json:"status"`
	Method          string    `json:"method"`
	StripeSessionID *string   `json:"stripeSessionId"`
	CreatedAt       time.Time `json:"createdAt"`
}

type arPayout struct {
	ID          string     `json:"id"`
	AffiliateID string     `json:"affiliateId"`
	Amount      float64    `json:"amount"`
	Status      string     `json:"status"`
	Method      *string    `json:"method"`
	CreatedAt   time.Time  `json:"createdAt"`
	CompletedAt *time.Time `json:"completedAt"`
}

type arAffiliate struct {
	ID               string    `json:"id"`
	UserID           string    `json:"userId"`
	ProgramID        string    `json:"programId"`
	Code             string    `json:"code"`
	Status           string    `json:"status"`
	TotalClicks      int       `json:"totalClicks"`
	TotalConversions int       `json:"totalConversions"`
	TotalEarnings    float64   `json:"totalEarnings"`
	CreatedAt        time.Time `json:"createdAt"`
}

type arFlag struct {
	ID          string          `json:"id"`
	AffiliateID string          `json:"affiliateId"`
	Type        string          `json:"type"`
	Status      string          `json:"status"`
	Details     *map[string]any `json:"details"`
	Note        *string         `json:"note"`
	CreatedAt   time.Time       `json:"createdAt"`
	ResolvedAt  *time.Time      `json:"resolvedAt"`
}

type arPage[T any] struct {
	Data []T    `json:"data"`
	Meta arMeta `json:"meta"`
}

// strict decodes raw into a value of typ and fails on an unknown field, a
// missing one, or a null where the shape allows none.
func strict(raw json.RawMessage, typ reflect.Type, at string) error {
	trimmed := bytes.TrimSpace(raw)
	if string(trimmed) == "null" {
		if typ.Kind() == reflect.Pointer {
			return nil
		}
		return fmt.Errorf("%s: null where the documentation allows none", at)
	}
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch {
	case typ.Kind() == reflect.Struct && typ != reflect.TypeFor[time.Time]():
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &obj); err != nil {
			return fmt.Errorf("%s: %v", at, err)
		}
		seen := map[string]bool{}
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			seen[name] = true
			v, ok := obj[name]
			if !ok {
				if opts == "omitempty" {
					continue
				}
				return fmt.Errorf("%s.%s: missing", at, name)
			}
			if err := strict(v, f.Type, at+"."+name); err != nil {
				return err
			}
		}
		for k := range obj {
			if !seen[k] {
				return fmt.Errorf("%s.%s: not a documented field", at, k)
			}
		}
		return nil
	case typ.Kind() == reflect.Slice:
		var items []json.RawMessage
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return fmt.Errorf("%s: %v", at, err)
		}
		for i, it := range items {
			if err := strict(it, typ.Elem(), fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := json.Unmarshal(trimmed, reflect.New(typ).Interface()); err != nil {
		return fmt.Errorf("%s: %v", at, err)
	}
	return nil
}

// recorder keeps every answer the clients received.
type recorder struct {
	mu      sync.Mutex
	answers []answer
}

type answer struct {
	method, path string
	query        url.Values
	status       int
	body         []byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.answers = append(r.answers, answer{req.Method, req.URL.Path, req.URL.Query(), resp.StatusCode, body})
	r.mu.Unlock()
	return resp, nil
}

// shapes maps "METHOD path-suffix" to the documented shape of a 2xx answer.
var shapes = []struct {
	route string
	typ   reflect.Type
}{
	{"GET /batch_processes/progress", reflect.TypeFor[map[string]int]()},
	{"GET /batch_processes/", reflect.TypeFor[fpBatch]()},
	{"GET /commissions", reflect.TypeFor[[]fpCommission]()},
	{"POST /commissions/", reflect.TypeFor[fpBatch]()},
	{"GET /conversions", reflect.TypeFor[arPage[arConversion]]()},
	{"GET /payouts", reflect.TypeFor[arPage[arPayout]]()},
	{"GET /affiliates", reflect.TypeFor[arPage[arAffiliate]]()},
	{"GET /flags", reflect.TypeFor[arPage[arFlag]]()},
}

// TestTheClientsAndTheSimulatorKeepToThePublishedContracts runs the real
// clients against the simulator: every request they send must be one the
// documentation describes (the simulator refuses any other parameter or
// value), and every answer they receive must have exactly the documented
// shape.
func TestTheClientsAndTheSimulatorKeepToThePublishedContracts(t *testing.T) {
	sim := simulator.New()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	sim.Now = func() time.Time { return now }
	sim.BatchDuration = time.Minute
	srv := sim.Start()
	defer srv.Close()
	rec := &recorder{}
	hc := &http.Client{Transport: rec}
	for id := int64(1); id <= 12; id++ {
		c := simulator.FPCommission{ID: id, Status: "approved", Unit: "points", Amount: 10, PromoterID: 7, RewardID: 3, CreatedAt: now.Add(-time.Hour)}
		if id%2 == 0 {
			c.ReferralID, c.UID = 100+id, fmt.Sprint("u", id)
		}
		sim.PutCommission(c)
	}
	resolved := now.Add(-time.Minute)
	note := "confirmed by hand"
	sim.PutConversion(simulator.Conversion{ID: "c1", AffiliateID: "a1", ProgramID: "p1", Amount: 5000, CommissionAmount: 500, Status: "approved"})
	sim.PutConversion(simulator.Conversion{ID: "c2", AffiliateID: "a1", ProgramID: "p1", Amount: 5000, CommissionNumber: "12.5", Status: "approved"})
	sim.PutPayout(simulator.Payout{ID: "po1", AffiliateID: "a1", Amount: 500, Status: "completed", Method: "paypal"})
	sim.PutPayout(simulator.Payout{ID: "po2", AffiliateID: "a1", Amount: 500, Status: "failed"})
	sim.PutAffiliate(simulator.Affiliate{ID: "a2", UserID: "u2", ProgramID: "p1", Code: "A2", Status: "blocked"})
	sim.PutFlag(simulator.Flag{ID: "f1", AffiliateID: "a2", Type: "self_referral", Status: "confirmed", Note: &note, ResolvedAt: &resolved})

	ctx := t.Context()
	fp := &firstpromoter.Client{BaseURL: simulator.FirstPromoterURL(srv.URL), APIKey: sim.APIKey, AccountID: sim.AccountID, HTTP: hc}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := fp.Commissions(ctx, []int64{1, 2, 3})
	must(err)
	_, err = fp.ListCommissions(ctx, url.Values{"filters[status]": {"approved"}, "filters[fulfilled]": {"no"}, "filters[created_at][from]": {"2026-10-21"}, "sorting[created_at]": {"asc"}}, 1, func(int, []firstpromoter.Commission) (bool, error) { return true, nil })
	must(err)
	_, err = fp.MarkFulfilled(ctx, []int64{1, 2})
	must(err)
	async, err := fp.MarkFulfilled(ctx, []int64{3, 4, 5, 6, 7, 8})
	must(err)
	_, err = fp.BatchProgress(ctx)
	must(err)
	_, err = fp.BatchProcess(ctx, string(async.ID))
	must(err)
	_, err = fp.Standings(ctx, []int64{1, 3, 9})
	must(err)

	ar := &agentref.Client{BaseURL: simulator.AgentRefURL(srv.URL), APIKey: sim.AgentKey, HTTP: hc}
	_, _, err = ar.Conversions(ctx, "approved", "")
	must(err)
	_, _, err = ar.Payouts(ctx, "completed", "")
	must(err)
	_, _, err = ar.Payouts(ctx, "failed", "")
	must(err)
	_, _, _, err = ar.Affiliates(ctx, "blocked", "")
	must(err)
	_, _, err = ar.Flags(ctx, "confirmed", "")
	must(err)

	checked := map[string]int{}
	for _, a := range rec.answers {
		if a.status >= 300 {
			t.Errorf("%s %s?%s answered %d %s: a request the documentation does not describe", a.method, a.path, a.query.Encode(), a.status, a.body)
			continue
		}
		for _, s := range shapes {
			method, suffix, _ := strings.Cut(s.route, " ")
			if a.method != method || !strings.Contains(a.path, suffix) {
				continue
			}
			if err := strict(a.body, s.typ, a.method+" "+suffix); err != nil {
				t.Errorf("answer of %s %s: %v", a.method, a.path, err)
			}
			checked[s.route]++
			break
		}
	}
	for _, s := range shapes {
		if checked[s.route] == 0 {
			t.Errorf("no answer of %s was checked", s.route)
		}
	}
}

// TestTheStrictDecoderRefusesUnknownAndMissingFields keeps the contract
// test honest: a field too many, a field missing and a forbidden null all
// fail it.
func TestTheStrictDecoderRefusesUnknownAndMissingFields(t *testing.T) {
	typ := reflect.TypeFor[arPage[arPayout]]()
	good := `{"data":[{"id":"p","affiliateId":"a","amount":1.5,"status":"completed","method":null,"createdAt":"2026-11-20T12:00:00Z","completedAt":null}],"meta":{"total":1,"page":1,"pageSize":20,"hasMore":false,"requestId":"r"}}`
	if err := strict(json.RawMessage(good), typ, "payouts"); err != nil {
		t.Fatalf("the documented shape: %v", err)
	}
	for name, bad := range map[string]string{
		"unknown":  strings.Replace(good, `"status"`, `"currency":"usd","status"`, 1),
		"missing":  strings.Replace(good, `"method":null,`, ``, 1),
		"null":     strings.Replace(good, `"amount":1.5`, `"amount":null`, 1),
		"meta":     strings.Replace(good, `"requestId":"r"`, `"nextCursor":"x"`, 1),
		"not date": strings.Replace(good, `"createdAt":"2026-11-20T12:00:00Z"`, `"createdAt":"yesterday"`, 1),
	} {
		if err := strict(json.RawMessage(bad), typ, "payouts"); err == nil {
			t.Errorf("%s: accepted %s", name, bad)
		}
	}
}
