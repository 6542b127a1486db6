package simulator

import (
	"net/http"
	"sort"
	"strconv"
	"time"
)

// Conversion is an AgentRef conversion.
type Conversion struct {
	ID               string    `json:"id"`
	AffiliateID      string    `json:"affiliateId"`
	ProgramID        string    `json:"programId"`
	Amount           int64     `json:"amount"`
	Currency         string    `json:"currency"`
	CommissionAmount int64     `json:"commissionAmount"`
	Status           string    `json:"status"`
	CreatedAt        time.Time `json:"createdAt"`
}

// Payout is an AgentRef payout.
type Payout struct {
	ID          string     `json:"id"`
	AffiliateID string     `json:"affiliateId"`
	Amount      int64      `json:"amount"`
	Currency    string     `json:"currency,omitempty"`
	Status      string     `json:"status"`
	Method      string     `json:"method"`
	CreatedAt   time.Time  `json:"createdAt"`
	CompletedAt *time.Time `json:"completedAt"`
}

// Affiliate is an AgentRef affiliate; its status is approved or blocked.
type Affiliate struct {
	ID        string    `json:"id"`
	UserID    string    `json:"userId"`
	ProgramID string    `json:"programId"`
	Code      string    `json:"code"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
}

// Flag is an AgentRef fraud flag; its status is open, reviewed, dismissed
// or confirmed.
type Flag struct {
	ID          string     `json:"id"`
	AffiliateID string     `json:"affiliateId"`
	Type        string     `json:"type"`
	Status      string     `json:"status"`
	Note        *string    `json:"note"`
	CreatedAt   time.Time  `json:"createdAt"`
	ResolvedAt  *time.Time `json:"resolvedAt"`
}

// PutAffiliate creates or replaces an affiliate.
func (s *Simulator) PutAffiliate(a Affiliate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.Now()
	}
	s.affiliates[a.ID] = &a
}

// PutFlag creates or replaces a flag.
func (s *Simulator) PutFlag(f Flag) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.CreatedAt.IsZero() {
		f.CreatedAt = s.Now()
	}
	s.flags[f.ID] = &f
}

// PutConversion creates or replaces a conversion.
func (s *Simulator) PutConversion(c Conversion) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = s.Now()
	}
	s.conversions[c.ID] = &c
}

// PutPayout creates or replaces a payout. A completed payout without a
// completion time is completed now, as the platform records it.
func (s *Simulator) PutPayout(p Payout) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.CreatedAt.IsZero() {
		p.CreatedAt = s.Now()
	}
	if p.Status == "completed" && p.CompletedAt == nil {
		now := s.Now()
		p.CompletedAt = &now
	}
	s.payouts[p.ID] = &p
}

func (s *Simulator) serveAgentRef(w http.ResponseWriter, r *http.Request, path string) {
	if r.Header.Get("Authorization") != "Bearer "+s.AgentKey {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]string{"code": "unauthorized", "message": "invalid API key"}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The platform's clock, as a real server states it on every answer.
	w.Header().Set("Date", s.Now().UTC().Format(http.TimeFormat))
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && path == "/conversions":
		var rows []any
		var keys []string
		for id, c := range s.conversions {
			if (q.Get("status") == "" || c.Status == q.Get("status")) && (q.Get("affiliateId") == "" || c.AffiliateID == q.Get("affiliateId")) {
				keys = append(keys, id)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			rows = append(rows, s.conversions[k])
		}
		writePage(w, q, rows)
	case r.Method == http.MethodGet && path == "/payouts":
		var rows []any
		var keys []string
		for id, p := range s.payouts {
			if q.Get("status") == "" || p.Status == q.Get("status") {
				keys = append(keys, id)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			rows = append(rows, s.payouts[k])
		}
		writePage(w, q, rows)
	case r.Method == http.MethodGet && path == "/affiliates":
		// Blocked affiliates are listed only when asked for (includeBlocked).
		var rows []any
		var keys []string
		for id, a := range s.affiliates {
			if (q.Get("status") == "" || a.Status == q.Get("status")) && (a.Status != "blocked" || q.Get("includeBlocked") == "true") &&
				(q.Get("programId") == "" || a.ProgramID == q.Get("programId")) {
				keys = append(keys, id)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			rows = append(rows, s.affiliates[k])
		}
		writePage(w, q, rows)
	case r.Method == http.MethodGet && path == "/flags":
		var rows []any
		var keys []string
		for id, f := range s.flags {
			if (q.Get("status") == "" || f.Status == q.Get("status")) && (q.Get("type") == "" || f.Type == q.Get("type")) &&
				(q.Get("affiliateId") == "" || f.AffiliateID == q.Get("affiliateId")) {
				keys = append(keys, id)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			rows = append(rows, s.flags[k])
		}
		writePage(w, q, rows)
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]string{"code": "not_found", "message": "no such endpoint"}})
	}
}

// writePage answers AgentRef's {data, meta} with cursor pagination: the
// cursor is the offset of the next row.
func writePage(w http.ResponseWriter, q map[string][]string, rows []any) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	limit := min(max(atoiDefault(get("limit"), 20), 1), 100)
	offset := max(atoiDefault(get("cursor"), 0), 0)
	end := min(offset+limit, len(rows))
	data := []any{}
	if offset < len(rows) {
		data = rows[offset:end]
	}
	meta := map[string]any{"total": len(rows), "page": offset/limit + 1, "pageSize": limit, "hasMore": end < len(rows), "nextCursor": nil}
	if end < len(rows) {
		meta["nextCursor"] = strconv.Itoa(end)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "meta": meta})
}
