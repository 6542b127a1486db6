package reward

// Request is what one platform event asks of the ledger, decided by the
// platform's package: a commission's Intent, a Hold, or a Payout's intent.
// None of them means the event changes nothing; it is recorded as handled.
type Request struct {
	Intent *Intent
	Hold   *Hold
	Payout *PayoutIntent
}
