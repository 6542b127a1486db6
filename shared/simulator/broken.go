package simulator

// Missing, as BreakRows' value, leaves the field out of the row.
var Missing = struct{ missing bool }{true}

// BreakRows makes the list at path (/commissions for FirstPromoter;
// /conversions, /payouts, /affiliates or /flags for AgentRef) answer every
// row with field set to value, or without it when value is Missing: an
// answer that breaks the documented contract, as a platform's regression
// would. A nil value clears every break of path.
func (s *Simulator) BreakRows(path, field string, value any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken == nil {
		s.broken = map[string]map[string]any{}
	}
	if value == nil {
		delete(s.broken, path)
		return
	}
	if s.broken[path] == nil {
		s.broken[path] = map[string]any{}
	}
	s.broken[path][field] = value
}

// breakRow applies the breaks of path to row. The caller holds s.mu.
func (s *Simulator) breakRow(path string, row map[string]any) map[string]any {
	for field, value := range s.broken[path] {
		if value == Missing {
			delete(row, field)
			continue
		}
		row[field] = value
	}
	return row
}
