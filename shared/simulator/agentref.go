package simulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// Conversion is an AgentRef conversion.
type Conversion struct {
	ID               string `json:"id"`
	AffiliateID      string `json:"affiliateId"`
	ProgramID        string `json:"programId"`
	Amount           int64  `json:"amount"`
	Currency         string `json:"currency"`
	CommissionAmount int64  `json:"commissionAmount"`
	// CommissionNumber, when set, is the commission as the API writes it
	// instead of CommissionAmount (e.g. 12.5 or 1250.0: a JSON number).
	CommissionNumber string    `json:"commissionNumber,omitempty"`
	Status           string    `json:"status"`
	CreatedAt        time.Time `json:"createdAt"`
}

// apiObject is the conversion in the API's documented shape (the SDK's
// Conversion): no currency, the commission named commission.
func (c Conversion) apiObject() map[string]any {
	var commission any = c.CommissionAmount
	if c.CommissionNumber != "" {
		commission = json.RawMessage(c.CommissionNumber)
	}
	return map[string]any{
		"id": c.ID, "affiliateId": c.AffiliateID, "programId": c.ProgramID, "amount": c.Amount, "commission": commission,
		"status": c.Status, "method": "cookie", "stripeSessionId": nil, "createdAt": c.CreatedAt.UTC().Format(time.RFC3339),
	}
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

// apiObject is the payout in the API's documented shape: no currency.
func (p Payout) apiObject() map[string]any {
	var completed any
	if p.CompletedAt != nil {
		completed = p.CompletedAt.UTC().Format(time.RFC3339)
	}
	var method any
	if p.Method != "" {
		method = p.Method
	}
	return map[string]any{
		"id": p.ID, "affiliateId": p.AffiliateID, "amount": p.Amount, "status": p.Status, "method": method,
		"createdAt": p.CreatedAt.UTC().Format(time.RFC3339), "completedAt": completed,
	}
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

func (a Affiliate) apiObject() map[string]any {
	return map[string]any{
		"id": a.ID, "userId": a.UserID, "programId": a.ProgramID, "code": a.Code, "status": a.Status,
		"totalClicks": 0, "totalConversions": 0, "totalEarnings": 0, "createdAt": a.CreatedAt.UTC().Format(time.RFC3339),
	}
}

func (f Flag) apiObject() map[string]any {
	var resolved any
	if f.ResolvedAt != nil {
		resolved = f.ResolvedAt.UTC().Format(time.RFC3339)
	}
	return map[string]any{
		"id": f.ID, "affiliateId": f.AffiliateID, "type": f.Type, "status": f.Status, "details": nil, "note": f.Note,
		"createdAt": f.CreatedAt.UTC().Format(time.RFC3339), "resolvedAt": resolved,
	}
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
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]string{"code": "UNAUTHORIZED", "message": "invalid API key"}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The platform's clock, as a real server states it on every answer.
	w.Header().Set("Date", s.Now().UTC().Format(http.TimeFormat))
	q := r.URL.Query()
	params, ok := arListParams[path]
	if r.Method != http.MethodGet || !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]string{"code": "NOT_FOUND", "message": "no such endpoint"}})
		return
	}
	why := checkQuery(q, params, nil)
	if st := q.Get("status"); why == "" && path == "/conversions" && s.refusedStatus[st] {
		why = "status " + st + " is not a valid filter"
	}
	if why != "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"code": "VALIDATION_ERROR", "message": why}})
		return
	}
	match := func(field, value string) bool { return q.Get(field) == "" || q.Get(field) == value }
	var rows []map[string]any
	switch path {
	case "/conversions":
		for _, k := range sortedKeys(s.conversions) {
			if c := s.conversions[k]; match("status", c.Status) && match("affiliateId", c.AffiliateID) {
				rows = append(rows, s.breakRow(path, c.apiObject()))
			}
		}
	case "/payouts":
		for _, k := range sortedKeys(s.payouts) {
			if p := s.payouts[k]; match("status", p.Status) && match("affiliateId", p.AffiliateID) {
				rows = append(rows, s.breakRow(path, p.apiObject()))
			}
		}
	case "/affiliates":
		// Blocked affiliates are listed only when asked for (includeBlocked).
		for _, k := range sortedKeys(s.affiliates) {
			if a := s.affiliates[k]; match("status", a.Status) && (a.Status != "blocked" || q.Get("includeBlocked") == "true") && match("programId", a.ProgramID) {
				rows = append(rows, s.breakRow(path, a.apiObject()))
			}
		}
	case "/flags":
		for _, k := range sortedKeys(s.flags) {
			if f := s.flags[k]; match("status", f.Status) && match("type", f.Type) && match("affiliateId", f.AffiliateID) {
				rows = append(rows, s.breakRow(path, f.apiObject()))
			}
		}
	}
	s.requestSeq++
	s.writePage(w, q, rows)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writePage answers AgentRef's {data, meta}, paged as the API documents:
// page and limit (or pageSize), or the cursor of a previous answer. meta
// carries total, page, pageSize, hasMore, requestId and, unless cursors
// are off, nextCursor (the offset of the next row) while more follow.
func (s *Simulator) writePage(w http.ResponseWriter, q url.Values, rows []map[string]any) {
	limit := 20
	if v := q.Get("limit"); v != "" {
		limit, _ = strconv.Atoi(v)
	} else if v := q.Get("pageSize"); v != "" {
		limit, _ = strconv.Atoi(v)
	}
	offset := 0
	switch {
	case q.Get("cursor") != "":
		offset = atoiDefault(q.Get("cursor"), 0)
	case q.Get("offset") != "":
		offset = atoiDefault(q.Get("offset"), 0)
	case q.Get("page") != "":
		offset = (atoiDefault(q.Get("page"), 1) - 1) * limit
	}
	end := min(offset+limit, len(rows))
	data := []map[string]any{}
	cut := s.cutListsAfter > 0 && offset >= s.cutListsAfter && offset < len(rows)
	if offset < len(rows) && !cut {
		data = rows[offset:end]
	}
	meta := map[string]any{
		"total": len(rows), "page": offset/limit + 1, "pageSize": limit, "hasMore": end < len(rows) || cut,
		"requestId": "req_sim_" + strconv.Itoa(s.requestSeq),
	}
	if end < len(rows) && !s.noCursors {
		meta["nextCursor"] = strconv.Itoa(end)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "meta": meta})
}

// OmitNextCursors makes AgentRef's lists leave out meta.nextCursor, which
// the documentation says is optional: clients page by page number.
func (s *Simulator) OmitNextCursors(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noCursors = on
}

// RefuseConversionStatus makes GET /conversions refuse a status filter
// with 400, as an API version that does not know it does.
func (s *Simulator) RefuseConversionStatus(status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusedStatus[status] = true
}

// CutListsShort makes AgentRef's lists send no row past the first n of a
// list while still saying more follow (0 turns it off): a broken answer.
func (s *Simulator) CutListsShort(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cutListsAfter = n
}

// arPaging are the pagination parameters of every AgentRef list.
var arPaging = map[string]param{
	"cursor": anyString, "limit": integer(1, 100), "page": integer(1, maxID), "pageSize": integer(1, 100), "offset": integer(0, maxID),
}

func withPaging(m map[string]param) map[string]param {
	for k, v := range arPaging {
		m[k] = v
	}
	return m
}

// arListParams are the documented parameters of AgentRef's lists (the
// official SDK's list methods). Conversion statuses include paid, which
// the API documents after approved.
var arListParams = map[string]map[string]param{
	"/conversions": withPaging(map[string]param{
		"programId": anyString, "affiliateId": anyString, "startDate": anyString, "endDate": anyString, "from": anyString, "to": anyString,
		"status": oneOf("pending", "approved", "paid", "partially_refunded", "rejected", "refunded"),
	}),
	"/payouts": withPaging(map[string]param{
		"programId": anyString, "affiliateId": anyString, "startDate": anyString, "endDate": anyString, "from": anyString, "to": anyString,
		"status": oneOf("pending", "processing", "completed", "failed"),
	}),
	"/affiliates": withPaging(map[string]param{
		"programId": anyString, "includeBlocked": boolean, "search": anyString, "sortBy": anyString, "sortOrder": oneOf("asc", "desc"),
		"status": oneOf("approved", "blocked"), "source": anyString,
	}),
	"/flags": withPaging(map[string]param{
		"type": anyString, "affiliateId": anyString,
		"status": oneOf("open", "reviewed", "dismissed", "confirmed"),
	}),
}
