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
	// Unfulfilments counts what mark_unfulfilled did to it: the merchant
	// said its delivery failed.
	Unfulfilments int `json:"unfulfilments,omitzero"`
}

// apiObject is the commission in the API's documented shape: every
// documented field, null where the documentation allows it and the
// simulator has nothing to say.
func (c FPCommission) apiObject() map[string]any {
	created := c.CreatedAt.UTC().Format(time.RFC3339)
	o := map[string]any{
		"id": c.ID, "status": c.Status, "metadata": map[string]any{}, "is_self_referral": false,
		"commission_type": "sale", "created_by_user_email": nil, "created_by_user_at": nil,
		"sale_amount": 0, "original_sale_amount": 0, "original_sale_currency": nil, "event_id": nil, "plan_id": nil,
		"tier": 1, "internal_note": nil, "external_note": nil,
		"unit": c.Unit, "fraud_check": c.FraudCheck, "amount": c.Amount, "is_paid": c.Fulfilled, "is_split": false,
		"created_at": created, "status_updated_at": nil,
		"promoter_campaign": map[string]any{
			"id": c.PromoterID*10 + 1, "campaign_id": 1, "promoter_id": c.PromoterID, "created_at": created,
			"promoter": map[string]any{"id": c.PromoterID, "email": "promoter" + idString(c.PromoterID) + "@example.com", "name": "Promoter " + idString(c.PromoterID)},
			"campaign": map[string]any{"id": 1, "name": "Campaign", "color": nil},
		},
		"referral":      nil,
		"reward":        map[string]any{"id": c.RewardID, "name": "reward " + idString(c.RewardID)},
		"split_details": nil,
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
	fulfilled, at, unfulfilments := c.Fulfilled, c.FulfilledAt, c.Unfulfilments
	change(c)
	c.Fulfilled, c.FulfilledAt, c.Unfulfilments = fulfilled, at, unfulfilments
	return true
}

// Commission returns a copy of a commission.
func (s *Simulator) Commission(id int64) (FPCommission, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runBatches()
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

	action string
	ids    []int64
	// due is when an asynchronous batch completes, polled or not.
	due time.Time
}

// runBatches moves asynchronous batches on by the clock, whether anyone
// polls them or not: pending, in progress from half their duration,
// completed (their ids applied) at its end. The caller holds the lock.
func (s *Simulator) runBatches() {
	now := s.Now()
	var due []*batch
	for _, b := range s.batches {
		switch {
		case b.Status != "pending" && b.Status != "in_progress":
		case !now.Before(b.due):
			due = append(due, b)
		case !now.Before(b.due.Add(-s.BatchDuration / 2)):
			b.Status, b.Progress, b.UpdatedAt = "in_progress", 50, now.UTC()
		}
	}
	// In the order they were created: two batches may touch one commission.
	sort.Slice(due, func(i, j int) bool { return due[i].ID < due[j].ID })
	for _, b := range due {
		s.complete(b)
	}
}

// complete applies a batch's action to each of its ids.
func (s *Simulator) complete(b *batch) {
	for _, id := range b.ids {
		if msg := s.apply(b.action, id); msg != "" {
			b.FailedCount++
			b.Errors = append(b.Errors, msg)
		} else {
			b.ProcessedCount++
		}
	}
	b.Status, b.Progress, b.UpdatedAt = "completed", 100, s.Now().UTC()
}

// listBatches answers GET /batch_processes (the batch processes) and
// GET /batch_processes/progress (each one's progress by id), by default
// of those pending or in progress.
func (s *Simulator) listBatches(w http.ResponseWriter, r *http.Request, progress bool) {
	q := r.URL.Query()
	if why := checkQuery(q, fpBatchListParams, nil); why != "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": why, "code": "invalid_params"})
		return
	}
	want := append(q["filters[status]"], q["filters[status][]"]...)
	if len(want) == 0 {
		want = []string{"pending", "in_progress"}
	}
	var rows []*batch
	for _, b := range s.batches {
		for _, st := range want {
			if b.Status == st {
				rows = append(rows, b)
				break
			}
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	if progress {
		out := map[string]int{}
		for _, b := range rows {
			out[strconv.FormatInt(b.ID, 10)] = b.Progress
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	if rows == nil {
		rows = []*batch{}
	}
	writeJSON(w, http.StatusOK, rows)
}

// fpAuthorised checks both of FirstPromoter's headers; 401 has no body.
func (s *Simulator) fpAuthorised(r *http.Request) bool {
	return r.Header.Get("Authorization") == "Bearer "+s.APIKey && r.Header.Get("Account-ID") == s.AccountID
}

// fpRateLimited applies the per-minute limit (caller holds the lock): over
// it, the whole seconds until the oldest request of the minute leaves it.
func (s *Simulator) fpRateLimited() (limited bool, retryAfter int) {
	now := s.Now()
	keep := s.recent[:0]
	for _, t := range s.recent {
		if now.Sub(t) < time.Minute {
			keep = append(keep, t)
		}
	}
	s.recent = keep
	if len(s.recent) >= s.RateLimit {
		wait := s.recent[0].Add(time.Minute).Sub(now)
		return true, max(1, int((wait+time.Second-1)/time.Second))
	}
	s.recent = append(s.recent, now)
	return false, 0
}

func (s *Simulator) serveFirstPromoter(w http.ResponseWriter, r *http.Request, path string) {
	if !s.fpAuthorised(r) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if limited, wait := s.fpRateLimited(); limited {
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"message": "Too many requests", "code": "rate_limited"})
		return
	}
	s.runBatches()
	switch {
	case r.Method == http.MethodGet && path == "/commissions":
		s.listCommissions(w, r)
	case r.Method == http.MethodGet && path == "/promoters":
		s.listPromoters(w, r)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/commissions/"):
		s.batchAction(w, r, strings.TrimPrefix(path, "/commissions/"))
	case r.Method == http.MethodGet && (path == "/batch_processes" || path == "/batch_processes/progress"):
		s.listBatches(w, r, path == "/batch_processes/progress")
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/batch_processes/"):
		b, ok := s.batches[strings.TrimPrefix(path, "/batch_processes/")]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "Record not found", "code": "not_found"})
			return
		}
		writeJSON(w, http.StatusOK, b)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not found", "code": "not_found"})
	}
}

func (s *Simulator) listCommissions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if why := checkQuery(q, fpListParams, fpListSimulated); why != "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": why, "code": "invalid_params"})
		return
	}
	perPage := atoiDefault(q.Get("per_page"), 20)
	page := atoiDefault(q.Get("page"), 1)
	promoter, _ := strconv.ParseInt(q.Get("filters[promoter_id]"), 10, 64)
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
		if f := q.Get("filters[paid]"); f != "" && c.Fulfilled != (f == "yes") {
			continue
		}
		if promoter != 0 && c.PromoterID != promoter {
			continue
		}
		// Dates, compared with the day the commission was created on.
		day := c.CreatedAt.UTC().Format(time.DateOnly)
		if from := q.Get("filters[created_at][from]"); from != "" && day < from {
			continue
		}
		if to := q.Get("filters[created_at][to]"); to != "" && day > to {
			continue
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
		out = append(out, s.breakRow("/commissions", rows[i].apiObject()))
	}
	writeJSON(w, http.StatusOK, out)
}

// SetCustID sets a promoter's cust_id, as the merchant does in the
// dashboard ("" clears it).
func (s *Simulator) SetCustID(promoterID int64, custID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if custID == "" {
		delete(s.custIDs, promoterID)
		return
	}
	s.custIDs[promoterID] = custID
}

// listPromoters answers GET /promoters: the promoters of the simulator's
// commissions, in the documented shape ({"data": [...], "meta": {...}}),
// cust_id null unless set.
func (s *Simulator) listPromoters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if why := checkQuery(q, fpPromoterListParams, nil); why != "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": why, "code": "invalid_params"})
		return
	}
	perPage := atoiDefault(q.Get("per_page"), 20)
	page := atoiDefault(q.Get("page"), 1)
	want := map[int64]bool{}
	for _, v := range q["ids[]"] {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			want[id] = true
		}
	}
	known := map[int64]bool{}
	for _, c := range s.commissions {
		known[c.PromoterID] = true
	}
	var ids []int64
	for id := range known {
		if id != 0 && (len(want) == 0 || want[id]) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	rows := []map[string]any{}
	for i := (page - 1) * perPage; i < len(ids) && i < page*perPage; i++ {
		id := ids[i]
		var cust any
		if v, ok := s.custIDs[id]; ok {
			cust = v
		}
		rows = append(rows, map[string]any{
			"id": id, "email": "promoter" + idString(id) + "@example.com", "name": "Promoter " + idString(id), "cust_id": cust,
			"note": nil, "is_customized": false, "fraud_suspicions": []string{}, "is_confirmed": true,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": rows, "meta": map[string]any{"pending_count": 0}})
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
	if s.refuseWhole && (action == "mark_fulfilled" || action == "mark_unfulfilled") {
		refusal := s.refusal
		if action == "mark_unfulfilled" {
			refusal = s.unfulfilRefusal
		}
		for _, id := range body.IDs {
			if msg := refusal(id); msg != "" {
				writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": msg, "code": "invalid_params"})
				return
			}
		}
	}
	s.nextBatch++
	now := s.Now().UTC()
	b := &batch{
		ID: int64(s.nextBatch), Status: "pending", Total: len(body.IDs), SelectedTotal: len(body.IDs),
		ActionLabel: "commission/" + action, CreatedAt: now, UpdatedAt: now, Meta: map[string]any{}, Errors: []string{},
		action: action, ids: body.IDs, due: now.Add(s.BatchDuration),
	}
	s.batches[strconv.FormatInt(b.ID, 10)] = b
	if len(body.IDs) <= 5 {
		s.complete(b)
		writeJSON(w, http.StatusOK, b)
		return
	}
	// Asynchronous: the answer says it is pending, as FirstPromoter's
	// does; it completes by the clock (at once without a BatchDuration).
	answer := *b
	if s.BatchDuration <= 0 {
		s.complete(b)
	}
	writeJSON(w, http.StatusAccepted, answer)
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

// unfulfilRefusal is why mark_unfulfilled cannot work on id ("" when it
// can): the API marks non-monetary commissions unfulfilled.
func (s *Simulator) unfulfilRefusal(id int64) string {
	c, ok := s.commissions[id]
	switch {
	case !ok:
		return "commission not found"
	case s.failUnfulfil[id] != "":
		return s.failUnfulfil[id]
	case c.Unit == "cash":
		return "only non-monetary commissions can be marked unfulfilled"
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
		if msg := s.unfulfilRefusal(id); msg != "" {
			return msg
		}
		c.Fulfilled, c.FulfilledAt = false, time.Time{}
		c.Unfulfilments++
	}
	return ""
}
