package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// The control API lets another process (rewardctl simulate) drive a
// running simulator: put platform state, read what the platform saw, turn
// faults on. It is not part of either platform's API; its calls are not
// recorded and never fail by injection.
const controlPrefix = "/_simulator/"

// Stats is what the platforms have answered so far.
type Stats struct {
	// Calls counts every platform request; FirstPromoter and AgentRef per
	// platform.
	Calls         int `json:"calls"`
	FirstPromoter int `json:"firstpromoter"`
	AgentRef      int `json:"agentref"`
	// Faults counts injected 5xx answers, RateLimited 429s.
	Faults      int `json:"faults"`
	RateLimited int `json:"rate_limited"`
}

// Stats counts the calls so far.
func (s *Simulator) Stats() Stats {
	var st Stats
	for _, c := range s.Calls() {
		st.Calls++
		switch {
		case strings.HasPrefix(c.Path, "/firstpromoter/"):
			st.FirstPromoter++
		case strings.HasPrefix(c.Path, "/agentref/"):
			st.AgentRef++
		}
		switch {
		case c.Status == http.StatusTooManyRequests:
			st.RateLimited++
		case c.Status >= 500:
			st.Faults++
		}
	}
	return st
}

// SetFaultRate answers that share of platform requests 503 (0 turns it off).
func (s *Simulator) SetFaultRate(rate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rate <= 0 {
		s.Flaky = nil
		return
	}
	s.Flaky = func() bool { return rand.Float64() < rate }
}

func (s *Simulator) serveControl(w http.ResponseWriter, r *http.Request) {
	route := strings.TrimPrefix(r.URL.Path, controlPrefix)
	if rest, ok := strings.CutPrefix(route, "firstpromoter/commissions/"); ok && r.Method == http.MethodPut {
		// PUT firstpromoter/commissions/{id}/status {"status": "approved"}
		idText, tail, _ := strings.Cut(rest, "/")
		id, err := strconv.ParseInt(idText, 10, 64)
		var body struct {
			Status string `json:"status"`
		}
		if err != nil || tail != "status" {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "no such control endpoint"})
			return
		}
		if !decodeControl(w, r, &body) {
			return
		}
		if _, found := s.Commission(id); !found {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "no such commission"})
			return
		}
		s.SetStatus(id, body.Status)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	switch r.Method + " " + route {
	case "PUT firstpromoter/commissions":
		putAll(w, r, s.PutCommission)
	case "GET firstpromoter/commissions":
		from, _ := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
		to, err := strconv.ParseInt(r.URL.Query().Get("to"), 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "give the id range as from and to"})
			return
		}
		s.mu.Lock()
		s.runBatches()
		out := []FPCommission{}
		for id, c := range s.commissions {
			if id >= from && id <= to {
				out = append(out, *c)
			}
		}
		s.mu.Unlock()
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
		writeJSON(w, http.StatusOK, out)
	case "PUT agentref/conversions":
		putAll(w, r, s.PutConversion)
	case "PUT faults":
		var f struct {
			Rate float64 `json:"rate"`
		}
		if !decodeControl(w, r, &f) {
			return
		}
		s.SetFaultRate(f.Rate)
		w.WriteHeader(http.StatusNoContent)
	case "GET stats":
		writeJSON(w, http.StatusOK, s.Stats())
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "no such control endpoint"})
	}
}

// putAll decodes a JSON array and puts each of its items.
func putAll[T any](w http.ResponseWriter, r *http.Request, put func(T)) {
	var items []T
	if !decodeControl(w, r, &items) {
		return
	}
	for _, it := range items {
		put(it)
	}
	w.WriteHeader(http.StatusNoContent)
}

func decodeControl(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "body: " + err.Error()})
		return false
	}
	return true
}

// Remote drives a simulator in another process through its control API.
type Remote struct {
	URL  string // the simulator's base URL
	HTTP *http.Client
}

func (c *Remote) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.URL, "/")+controlPrefix+path, body)
	if err != nil {
		return err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("platform simulator: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("platform simulator: %s %s: %s %s", method, path, resp.Status, bytes.TrimSpace(msg))
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// PutCommissions creates or replaces FirstPromoter commissions.
func (c *Remote) PutCommissions(ctx context.Context, cs []FPCommission) error {
	return c.do(ctx, http.MethodPut, "firstpromoter/commissions", cs, nil)
}

// Commissions returns the FirstPromoter commissions with ids in [from, to].
func (c *Remote) Commissions(ctx context.Context, from, to int64) ([]FPCommission, error) {
	var out []FPCommission
	q := url.Values{"from": {strconv.FormatInt(from, 10)}, "to": {strconv.FormatInt(to, 10)}}
	err := c.do(ctx, http.MethodGet, "firstpromoter/commissions?"+q.Encode(), nil, &out)
	return out, err
}

// SetStatus changes a FirstPromoter commission's status, as the merchant's
// dashboard would; the rest of it (its fulfilment) stays.
func (c *Remote) SetStatus(ctx context.Context, id int64, status string) error {
	return c.do(ctx, http.MethodPut, "firstpromoter/commissions/"+strconv.FormatInt(id, 10)+"/status", map[string]string{"status": status}, nil)
}

// PutConversions creates or replaces AgentRef conversions.
func (c *Remote) PutConversions(ctx context.Context, cs []Conversion) error {
	return c.do(ctx, http.MethodPut, "agentref/conversions", cs, nil)
}

// SetFaultRate answers that share of platform requests 503.
func (c *Remote) SetFaultRate(ctx context.Context, rate float64) error {
	return c.do(ctx, http.MethodPut, "faults", map[string]float64{"rate": rate}, nil)
}

// Stats counts the platform calls so far.
func (c *Remote) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := c.do(ctx, http.MethodGet, "stats", nil, &st)
	return st, err
}
