package rewardsapi

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rewardrelay/rewardrelay/shared/fake"
	"github.com/rewardrelay/rewardrelay/shared/reward"
)

type schema struct {
	Ref        string             `yaml:"$ref"`
	Type       any                `yaml:"type"`
	Required   []string           `yaml:"required"`
	Properties map[string]*schema `yaml:"properties"`
	Items      *schema            `yaml:"items"`
}

type content struct {
	Schema *schema `yaml:"schema"`
}

type response struct {
	Ref     string             `yaml:"$ref"`
	Headers map[string]any     `yaml:"headers"`
	Content map[string]content `yaml:"content"`
}

type operation struct {
	Parameters  []map[string]any `yaml:"parameters"`
	RequestBody struct {
		Content map[string]content `yaml:"content"`
	} `yaml:"requestBody"`
	Responses map[string]*response `yaml:"responses"`
}

type document struct {
	Paths      map[string]map[string]*operation `yaml:"paths"`
	Components struct {
		Responses map[string]*response `yaml:"responses"`
		Schemas   map[string]*schema   `yaml:"schemas"`
	} `yaml:"components"`
}

func loadDocument(t *testing.T) document {
	t.Helper()
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var d document
	if err := yaml.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d document) schema(s *schema) *schema {
	for s != nil && s.Ref != "" {
		s = d.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	return s
}

func (d document) response(r *response) *response {
	for r != nil && r.Ref != "" {
		r = d.Components.Responses[strings.TrimPrefix(r.Ref, "#/components/responses/")]
	}
	return r
}

// check compares a JSON value the handler answered with its schema: every
// field documented, every required field present, arrays item by item.
func (d document) check(t *testing.T, where string, v any, s *schema) {
	t.Helper()
	s = d.schema(s)
	if s == nil {
		t.Errorf("%s: no schema", where)
		return
	}
	switch v := v.(type) {
	case map[string]any:
		for k, fv := range v {
			ps, ok := s.Properties[k]
			if !ok {
				t.Errorf("%s: field %q is answered but not documented", where, k)
				continue
			}
			d.check(t, where+"."+k, fv, ps)
		}
		for _, k := range s.Required {
			if _, ok := v[k]; !ok {
				t.Errorf("%s: documented field %q is not answered", where, k)
			}
		}
	case []any:
		for i, item := range v {
			d.check(t, where+"["+strconv.Itoa(i)+"]", item, s.Items)
		}
	}
}

// down is a store whose every call fails, as an unreachable DynamoDB.
type down struct{ fake.LedgerStore }

var errDown = errors.New("unreachable")

func (down) Redeem(context.Context, reward.RedemptionChange) error { return errDown }
func (down) TransitionRedemption(context.Context, reward.RedemptionChange) error {
	return errDown
}
func (down) RedemptionHistory(context.Context, string) (reward.Redemption, []reward.Entry, error) {
	return reward.Redemption{}, nil, errDown
}
func (down) Redemption(context.Context, string) (reward.Redemption, error) {
	return reward.Redemption{}, errDown
}
func (down) RecipientBalances(context.Context, reward.Recipient) ([]reward.Balance, error) {
	return nil, errDown
}
func (down) RecipientEntries(context.Context, reward.Recipient, int, string) ([]reward.Entry, string, error) {
	return nil, "", errDown
}
func (down) Commission(context.Context, reward.Provider, string) (reward.Commission, error) {
	return reward.Commission{}, errDown
}
func (down) Apply(context.Context, reward.EventRecord, reward.Change) error { return errDown }

// TestTheOpenAPIDocumentDescribesTheHandler drives every route through
// each of its answers and holds openapi.yaml to what the handler does: the
// same routes and methods, every status answered documented and every
// documented one answered, the bodies' fields as the schemas say, the
// request's fields as the handler reads them.
func TestTheOpenAPIDocumentDescribesTheHandler(t *testing.T) {
	d := loadDocument(t)
	var documented []string
	for path, ops := range d.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(documented)
	if routes := slices.Sorted(slices.Values(Routes())); !slices.Equal(documented, routes) {
		t.Fatalf("documented routes %v, the handler serves %v", documented, routes)
	}
	op := func(route string) *operation {
		method, path, _ := strings.Cut(route, " ")
		return d.Paths[path][strings.ToLower(method)]
	}
	var reasonFields []string
	for k := range d.schema(op(RouteDeliveryFailed).RequestBody.Content["application/json"].Schema).Properties {
		reasonFields = append(reasonFields, k)
	}
	if !slices.Equal(reasonFields, []string{"reason"}) {
		t.Errorf("documented delivery failure fields %v, the handler reads reason", reasonFields)
	}
	var requestFields []string
	for k := range d.schema(op(RouteRedemptions).RequestBody.Content["application/json"].Schema).Properties {
		requestFields = append(requestFields, k)
	}
	if sort.Strings(requestFields); !slices.Equal(requestFields, slices.Sorted(slices.Values(RequestFields))) {
		t.Errorf("documented request fields %v, the handler reads %v", requestFields, RequestFields)
	}

	store := fake.NewStore()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	api := API{Store: store, Now: func() time.Time { return now }}
	c, _ := reward.Plan(nil, reward.Intent{Provider: reward.FirstPromoter, CommissionID: "1", Target: reward.TargetApproved,
		Account: reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter("1"), Unit: reward.Points}, Amount: 100, At: now})
	if err := store.Apply(t.Context(), reward.EventRecord{}, c); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"2", "3"} {
		d, _ := reward.Plan(nil, reward.Intent{Provider: reward.FirstPromoter, CommissionID: id, Target: reward.TargetApproved, Acknowledge: id == "2",
			Account: reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter(id), Unit: reward.Points}, Amount: 100, At: now})
		if err := store.Apply(t.Context(), reward.EventRecord{}, d); err != nil {
			t.Fatal(err)
		}
	}
	acked, _ := store.Commission(t.Context(), reward.FirstPromoter, "2")
	ack, _ := reward.Acknowledge(acked, "", now)
	if err := store.Apply(t.Context(), reward.EventRecord{}, ack); err != nil {
		t.Fatal(err)
	}
	p, _ := reward.Plan(nil, reward.Intent{Provider: reward.FirstPromoter, CommissionID: "4", Target: reward.TargetPending,
		Account: reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter("4"), Unit: reward.Points}, Amount: 100, At: now})
	if err := store.Apply(t.Context(), reward.EventRecord{}, p); err != nil {
		t.Fatal(err)
	}
	answered := map[string]bool{}
	serve := func(a API, route string, params map[string]string, query, key, body string) Response {
		r := a.Serve(t.Context(), Request{Route: route, Params: params, Query: query, Body: []byte(body), Actor: "local",
			Header: func(name string) string {
				if name == "idempotency-key" {
					return key
				}
				return ""
			}})
		code := strconv.Itoa(r.Status)
		answered[route+" "+code] = true
		resp := d.response(op(route).Responses[code])
		if resp == nil {
			t.Errorf("%s answers %s, which is not documented", route, code)
			return r
		}
		raw, _ := json.Marshal(r.Body)
		var v any
		_ = json.Unmarshal(raw, &v)
		d.check(t, route+" "+code, v, resp.Content["application/json"].Schema)
		for name := range r.Header {
			found := false
			for h := range resp.Headers {
				found = found || strings.EqualFold(h, name)
			}
			if !found {
				t.Errorf("%s %s: header %s is not documented", route, code, name)
			}
		}
		return r
	}
	one := map[string]string{"recipient": "promoter:1"}
	redeem := `{"provider":"firstpromoter","unit":"points","amount":10,"hold":true}`
	serve(api, RouteBalances, one, "", "", "")
	serve(api, RouteBalances, map[string]string{"recipient": "x"}, "", "", "")
	serve(api, RouteEntries, one, "limit=1", "", "")
	serve(api, RouteEntries, one, "limit=0", "", "")
	held := serve(api, RouteRedemptions, one, "", "k1", redeem).Body.(RedemptionBody)
	serve(api, RouteRedemptions, one, "", "k1", redeem)
	serve(api, RouteRedemptions, one, "", "k1", `{"provider":"firstpromoter","unit":"points","amount":11}`)
	serve(api, RouteRedemptions, one, "", "k2", `{"provider":"firstpromoter","unit":"points","amount":1000}`)
	serve(api, RouteRedemptions, one, "", "", redeem)
	posted := serve(api, RouteRedemptions, one, "", "k3", `{"provider":"firstpromoter","unit":"points","amount":10}`).Body.(RedemptionBody)
	for _, route := range []string{RouteCapture, RouteVoid, RouteReverse} {
		serve(api, route, map[string]string{"id": "rdm_none"}, "", "", "")
	}
	serve(api, RouteReverse, map[string]string{"id": held.ID}, "", "", "")
	serve(api, RouteVoid, map[string]string{"id": posted.ID}, "", "", "")
	serve(api, RouteCapture, map[string]string{"id": held.ID}, "", "", "")
	serve(api, RouteCapture, map[string]string{"id": posted.ID}, "", "", "")
	serve(api, RouteReverse, map[string]string{"id": posted.ID}, "", "", "")
	voidable := serve(api, RouteRedemptions, one, "", "k4", redeem).Body.(RedemptionBody)
	serve(api, RouteVoid, map[string]string{"id": voidable.ID}, "", "", "")
	serve(api, RouteCapture, map[string]string{"id": voidable.ID}, "", "", "")
	fp := func(id string) map[string]string { return map[string]string{"provider": "firstpromoter", "id": id} }
	reason := `{"reason":"the gift card service is down"}`
	serve(api, RouteDeliveryFailed, fp("2"), "", "", reason) // 202: the platform is told
	serve(api, RouteDeliveryFailed, fp("2"), "", "", reason) // 200: the same state
	serve(api, RouteDeliveryFailed, fp("2"), "", "", `{"why":"x"}`)
	serve(api, RouteDeliveryFailed, fp("none"), "", "", reason)
	serve(api, RouteDeliveryFailed, fp("4"), "", "", reason)
	serve(api, RouteRedemptions, map[string]string{"recipient": "promoter:3"}, "", "k5", `{"provider":"firstpromoter","unit":"points","amount":100}`)
	serve(api, RouteDeliveryFailed, fp("3"), "", "", reason) // 409: redeemed
	serve(api, RouteRedeliver, fp("2"), "", "", "")
	serve(api, RouteRedeliver, fp("3"), "", "", "")
	serve(api, RouteRedeliver, fp("none"), "", "", "")
	serve(api, RouteRedeliver, fp("4"), "", "", "")
	unreachable := API{Store: down{}, Now: api.Now}
	for _, route := range Routes() {
		body := redeem
		if route == RouteDeliveryFailed {
			body = reason
		}
		serve(unreachable, route, map[string]string{"recipient": "promoter:1", "id": held.ID, "provider": "firstpromoter"}, "", "k9", body)
	}
	for _, route := range Routes() {
		for code := range op(route).Responses {
			if !answered[route+" "+code] {
				t.Errorf("%s documents %s, which the handler never answered here", route, code)
			}
		}
	}
}
