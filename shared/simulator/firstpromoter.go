package simulator

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// FPCommission is a FirstPromoter commission as the simulator keeps it.
type FPCommission struct {
	ID         int64     `json:"id"`
	Status     string    `json:"status"`
	Unit       string    `json:"unit"`
	Amount     int64     `json:"amount"`
	FraudCheck string    `json:"fraud_check"`
	CreatedAt  time.Time `json:"created_at"`
	PromoterID int64     `json:"promoter_id"`
	RewardID   int64     `json:"reward_id"`
	ReferralID int64     `json:"referral_id,omitzero"`
	UID        string    `json:"uid,omitzero"`
	// Fulfilled is what mark_fulfilled sets: the platform's view of
	// whether the merchant delivered; FulfilledAt is when it first did.
	Fulfilled   bool      `json:"fulfilled"`
	FulfilledAt time.Time `json:"fulfilled_at,omitzero"`
}

func (c FPCommission) apiObject() map[string]any {
	o := map[string]any{
		"id": c.ID, "status": c.Status, "unit": c.Unit, "amount": c.Amount, "fraud_check": c.FraudCheck,
		"created_at": c.CreatedAt.UTC().Format(time.RFC3339), "is_paid": c.Fulfilled,
		"promoter_campaign": map[string]any{"id": c.PromoterID*10 + 1, "campaign_id": 1, "promoter_id": c.PromoterID,
			"promoter": map[string]any{"id": c.PromoterID, "email": "promoter" + idString(c.PromoterID) + "@example.com"}},
		"reward":   map[string]any{"id": c.RewardID, "name": "reward " + idString(c.RewardID)},
		"referral": nil,
	}
	if c.ReferralID != 0 {
		o["referral"] = map[string]any{"id": c.ReferralID, "uid": c.UID, "email": "customer" + idString(c.ReferralID) + "@example.com"}
	}
	return o
}

// PutCommission creates or replaces a commission.
func (s *Simulator) PutCommission(c FPCommission) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = s.Now()
	}
	if c.FraudCheck == "" {
		c.FraudCheck = "no_suspicion"
	}
	s.commissions[c.ID] = &c
}

// SetStatus changes a commission's status, as the merchant's dashboard would.
func (s *Simulator) SetStatus(id int64, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.commissions[id]; ok {
		c.Status = status
	}
}

// UpdateCommission changes a commission in place, as the merchant's
// dashboard would (a promoter moved, a referral's uid set, a status):
// what mark_fulfilled recorded meanwhile is kept, whatever change does to
// a copy. It reports whether the commission exists.
func (s *Simulator) UpdateCommission(id int64, change func(c *FPCommission)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.commissions[id]
	if !ok {
		return false
	}
	fulfilled, at := c.Fulfilled, c.FulfilledAt
	change(c)
	c.Fulfilled, c.FulfilledAt = fulfilled, at
	return true
}

// Commission returns a copy of a commission.
func (s *Simulator) Commission(id int64) (FPCommission, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.commissions[id]
	if !ok {
		return FPCommission{}, false
	}
	return *c, true
}

// batch is a batch process in the API's documented shape
// (BatchOperationResponse): processing_errors are messages, without ids.
type batch struct {
	ID             int64     `json:"id"`
	Status         string    `json:"status"`
	Total          int       `json:"total"`
	SelectedTotal  int       `json:"selected_total"`
	ProcessedCount int       `json:"processed_count"`
	FailedCount    int       `json:"failed_count"`
	ActionLabel    string    `json:"action_label"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	Meta           any       `json:"meta"`
	Progress       int       `json:"progress"`
	Errors         []string  `json:"processing_errors"`
}

// fpAuthorised checks both of FirstPromoter's headers; 401 has no body.
func (s *Simulator) fpAuthorised(r *http.Request) bool {
	return r.Header.Get("Authorization") == "Bearer "+s.APIKey && r.Header.Get("Account-ID") == s.AccountID
}

// fpRateLimited applies the per-minute limit (caller holds the lock).
func (s *Simulator) fpRateLimited() bool {
	now := s.Now()
	keep := s.recent[:0]
	for _, t := range s.recent {
		if now.Sub(t) < time.Minute {
			keep = append(keep, t)
		}
	}
	s.recent = keep
	if len(s.recent) >= s.RateLimit {
		return true
	}
	s.recent = append(s.recent, now)
	return false
}

func (s *Simulator) serveFirstPromoter(w http.ResponseWriter, r *http.Request, path string) {
	if !s.fpAuthorised(r) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fpRateLimited() {
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"message": "Too many requests", "code": "rate_limited"})
		return
	}
	switch {
	case r.Method == http.MethodGet && path == "/commissions":
		s.listCommissions(w, r)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/commissions/"):
		s.batchAction(w, r, strings.TrimPrefix(path, "/commissions/"))
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/batch_processes/"):
		b, ok := s.batches[strings.TrimPrefix(path, "/batch_processes/")]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "Batch process not found", "code": "not_found"})
			return
		}
		writeJSON(w, http.StatusOK, b)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not found", "code": "not_found"})
	}
}

func (s *Simulator) listCommissions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	perPage := min(max(atoiDefault(q.Get("per_page"), 20), 1), 100)
	page := max(atoiDefault(q.Get("page"), 1), 1)
	wantIDs := map[int64]bool{}
	for _, v := range q["ids[]"] {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			wantIDs[id] = true
		}
	}
	var rows []*FPCommission
	for _, c := range s.commissions {
		if len(wantIDs) > 0 && !wantIDs[c.ID] {
			continue
		}
		if st := q.Get("filters[status]"); st != "" && c.Status != st {
			continue
		}
		if f := q.Get("filters[fulfilled]"); f != "" && c.Fulfilled != (f == "yes") {
			continue
		}
		if from := q.Get("filters[created_at][from]"); from != "" {
			if t, err := time.Parse(time.RFC3339, from); err == nil && c.CreatedAt.Before(t) {
				continue
			}
		}
		rows = append(rows, c)
	}
	desc := q.Get("sorting[created_at]") == "desc"
	sort.Slice(rows, func(i, j int) bool {
		if !rows[i].CreatedAt.Equal(rows[j].CreatedAt) {
			return rows[i].CreatedAt.Before(rows[j].CreatedAt) != desc
		}
		return rows[i].ID < rows[j].ID
	})
	out := []map[string]any{}
	for i := (page - 1) * perPage; i < len(rows) && i < page*perPage; i++ {
		out = append(out, rows[i].apiObject())
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Simulator) batchAction(w http.ResponseWriter, r *http.Request, action string) {
	var body struct {
		IDs []int64 `json:"ids"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.IDs) == 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "ids must be a non-empty array of integers", "code": "invalid_params"})
		return
	}
	switch action {
	case "approve", "deny", "mark_fulfilled", "mark_unfulfilled":
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not found", "code": "not_found"})
		return
	}
	if s.refuseWhole && action == "mark_fulfilled" {
		for _, id := range body.IDs {
			if msg := s.refusal(id); msg != "" {
				writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": msg, "code": "invalid_params"})
				return
			}
		}
	}
	s.nextBatch++
	now := s.Now().UTC()
	b := &batch{
		ID: int64(s.nextBatch), Status: "completed", Total: len(body.IDs), SelectedTotal: len(body.IDs),
		ActionLabel: "commission/" + action, CreatedAt: now, UpdatedAt: now, Progress: 100, Errors: []string{},
	}
	for _, id := range body.IDs {
		if msg := s.apply(action, id); msg != "" {
			b.FailedCount++
			b.Errors = append(b.Errors, msg)
		} else {
			b.ProcessedCount++
		}
	}
	s.batches[strconv.FormatInt(b.ID, 10)] = b
	if len(body.IDs) > 5 {
		// The work is done at once; the answer says it is under way, as
		// FirstPromoter's does, and polling shows the result.
		pending := *b
		pending.Status, pending.ProcessedCount, pending.FailedCount, pending.Progress, pending.Errors = "pending", 0, 0, 0, []string{}
		writeJSON(w, http.StatusAccepted, pending)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// refusal is why mark_fulfilled cannot work on id ("" when it can).
func (s *Simulator) refusal(id int64) string {
	c, ok := s.commissions[id]
	switch {
	case !ok:
		return "commission not found"
	case s.failFulfil[id] != "":
		return s.failFulfil[id]
	case c.Status != "approved" || c.Unit == "cash":
		return "only approved non-monetary commissions can be fulfilled"
	}
	return ""
}

// apply performs one id of a batch action; a non-empty result is its error.
func (s *Simulator) apply(action string, id int64) string {
	c, ok := s.commissions[id]
	if !ok {
		return "commission not found"
	}
	switch action {
	case "approve":
		if c.Status != "pending" {
			return "commission is not pending"
		}
		c.Status = "approved"
	case "deny":
		if c.Status == "denied" {
			return "commission is already denied"
		}
		c.Status = "denied"
	case "mark_fulfilled":
		if msg := s.refusal(id); msg != "" {
			return msg
		}
		if !c.Fulfilled {
			c.Fulfilled, c.FulfilledAt = true, s.Now()
		}
	case "mark_unfulfilled":
		c.Fulfilled, c.FulfilledAt = false, time.Time{}
	}
	return ""
}
