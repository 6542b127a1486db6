package reward

// Request is what one platform event asks of the ledger, decided by the
// platform's package: a commission's Intent, a Hold, or a Payout's intent.
// None of them means the event changes nothing; it is recorded as handled
// (as stale when Stale is set).
type Request struct {
	Intent *Intent
	Hold   *Hold
	Payout *PayoutIntent
	// Stale: the event is older than what the platform or the ledger
	// knows; it changes nothing and is recorded as stale.
	Stale bool
	// Note, when set, says why the event changes nothing (logged).
	Note string
	// CommissionID and Unit, when set, are the commission and the unit
	// such an event concerns: logged with the note.
	CommissionID string
	Unit         Unit
	// Offline: decided without the platform's view, which could not be
	// read (the failed read is counted).
	Offline bool
}
