package domain

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// TransactionType says what a ledger transaction did.
type TransactionType struct{ slug string }

var (
	TransactionGrant      = TransactionType{"GRANT"}
	TransactionSpend      = TransactionType{"SPEND"}
	TransactionCapture    = TransactionType{"CAPTURE"}
	TransactionExpiration = TransactionType{"EXPIRATION"}
	// TransactionClawback takes back the credits a cancelled payment funded.
	TransactionClawback = TransactionType{"CLAWBACK"}
	// TransactionReversal undoes part or all of an earlier spend, capture or grant (see Wallet.Reverse).
	TransactionReversal = TransactionType{"REVERSAL"}
)

var transactionTypes = []TransactionType{TransactionGrant, TransactionSpend, TransactionCapture, TransactionExpiration, TransactionClawback,
	TransactionReversal}

// TransactionTypeFromString parses a stored transaction type.
func TransactionTypeFromString(s string) (TransactionType, error) {
	for _, t := range transactionTypes {
		if t.slug == s {
			return t, nil
		}
	}
	return TransactionType{}, fmt.Errorf("%w: unknown transaction type %q", ErrInvalidInput, s)
}

func (t TransactionType) String() string { return t.slug }

// SystemAccount is the other side of every wallet movement. System accounts
// have no stored balance: theirs is the sum of their postings, derived on
// read, so no transaction ever locks or updates a shared row.
type SystemAccount struct{ slug string }

var (
	SystemPromotions  = SystemAccount{"promotions"}  // source of bonus grants
	SystemPurchases   = SystemAccount{"purchases"}   // source of paid grants
	SystemConsumption = SystemAccount{"consumption"} // sink of spends and captures
	SystemBreakage    = SystemAccount{"breakage"}    // sink of expired credits
	SystemRefunds     = SystemAccount{"refunds"}     // sink of clawed-back credits
	// SystemRefundLosses records the credits a clawback could not take back
	// under the absorb policy: already consumed, they are reclassified from
	// consumption to a loss.
	SystemRefundLosses = SystemAccount{"refund_losses"}
)

var systemAccounts = []SystemAccount{SystemPromotions, SystemPurchases, SystemConsumption, SystemBreakage, SystemRefunds, SystemRefundLosses}

// SystemAccountFromString parses a stored system account name.
func SystemAccountFromString(s string) (SystemAccount, error) {
	for _, a := range systemAccounts {
		if a.slug == s {
			return a, nil
		}
	}
	return SystemAccount{}, fmt.Errorf("%w: unknown system account %q", ErrInvalidInput, s)
}

func (a SystemAccount) String() string { return a.slug }
func (a SystemAccount) IsZero() bool   { return a.slug == "" }

// Posting is one leg of a transaction: credits into (positive) or out of
// (negative) either a wallet's lot, a wallet's debt, or a system account.
type Posting struct {
	// Exactly one of Wallet and System is set. A wallet posting names its
	// lot, and says what the lot's credits are: paid or bonus, and what
	// funded them, so which payment a spend drew on needs no second read.
	// A wallet posting without a lot (Lot zero) is on the wallet's debt: a
	// clawback's shortfall owed (negative), or debt a grant paid (positive);
	// the wallet's debt is minus the sum of these.
	Wallet     WalletID
	AccountID  AccountID
	Lot        LotID
	LotSource  LotSource
	LotFunding Funding
	System     SystemAccount
	Amount     Credits
}

// IsSystem reports whether the posting is on a system account.
func (p Posting) IsSystem() bool { return !p.System.IsZero() }

// IsDebt reports whether the posting is on a wallet's debt rather than one of its lots.
func (p Posting) IsDebt() bool { return !p.IsSystem() && p.Lot == LotID{} }

// Metadata is free-form client data kept with a transaction or hold.
type Metadata map[string]string

// Metadata limits, chosen to keep one transaction row small.
const (
	MaxMetadataKeys        = 50
	MaxMetadataKeyLength   = 40
	MaxMetadataValueLength = 500
	MaxReasonLength        = 500
)

// ValidateMetadata checks metadata against the limits above, and that its
// keys and values are storable text (see storableText).
func ValidateMetadata(m map[string]string) error {
	if len(m) > MaxMetadataKeys {
		return fmt.Errorf("%w: metadata has more than %d keys", ErrInvalidInput, MaxMetadataKeys)
	}
	for k, v := range m {
		if err := storableText(k); err != nil {
			return fmt.Errorf("%w: a metadata key %s", ErrInvalidInput, err)
		}
		if k == "" || utf8.RuneCountInString(k) > MaxMetadataKeyLength {
			return fmt.Errorf("%w: metadata keys must be 1 to %d characters", ErrInvalidInput, MaxMetadataKeyLength)
		}
		if err := storableText(v); err != nil {
			return fmt.Errorf("%w: the metadata value of %q %s", ErrInvalidInput, k, err)
		}
		if utf8.RuneCountInString(v) > MaxMetadataValueLength {
			return fmt.Errorf("%w: metadata value of %q is longer than %d characters", ErrInvalidInput, k, MaxMetadataValueLength)
		}
	}
	return nil
}

// ValidateReason checks a transaction's free-text reason: storable text (see
// storableText) of at most MaxReasonLength characters.
func ValidateReason(s string) error {
	if err := storableText(s); err != nil {
		return fmt.Errorf("%w: reason %s", ErrInvalidInput, err)
	}
	if utf8.RuneCountInString(s) > MaxReasonLength {
		return fmt.Errorf("%w: reason is longer than %d characters", ErrInvalidInput, MaxReasonLength)
	}
	return nil
}

// storableText refuses what a database cannot keep as text: bytes that are
// not UTF-8, and NUL, which PostgreSQL's text and jsonb both refuse. Refused
// here, such text is a client's mistake rather than a failed write on every
// retry. The error completes a sentence about the text.
func storableText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return errors.New(`must not contain NUL (\u0000)`)
	}
	return nil
}

// Memo is what a client says about a movement: why, and data of its own.
type Memo struct {
	Reason   string
	Metadata Metadata
}

// Transaction is an immutable, balanced set of postings on one wallet.
type Transaction struct {
	id           TransactionID
	tenant       TenantID
	typ          TransactionType
	wallet       WalletID
	account      AccountID
	amount       Credits // magnitude moved into or out of the wallet; for a clawback, the amount asked (see Wallet.Clawback)
	balanceAfter Credits
	hold         *HoldID
	memo         Memo
	createdAt    time.Time
	postings     []Posting
	reversalOf   *TransactionID // the transaction a reversal reverses; nil for other types
}

func newTransaction(id TransactionID, typ TransactionType, w *Wallet, amount Credits, memo Memo, now time.Time, postings []Posting) (Transaction, error) {
	t := Transaction{id: id, tenant: w.tenant, typ: typ, wallet: w.id, account: w.account, amount: amount,
		balanceAfter: w.balance, memo: memo, createdAt: now, postings: postings}
	return t, t.checkBalanced()
}

func (t Transaction) checkBalanced() error {
	if len(t.postings) < 2 {
		return fmt.Errorf("transaction %s has %d postings, needs at least 2", t.id, len(t.postings))
	}
	sum := ZeroCredits
	for _, p := range t.postings {
		sum = sum.Add(p.Amount)
	}
	if !sum.IsZero() {
		return fmt.Errorf("transaction %s postings sum to %s, not zero", t.id, sum)
	}
	return nil
}

// RehydrateTransaction rebuilds a stored transaction; adapters only.
func RehydrateTransaction(id TransactionID, tenant TenantID, typ TransactionType, wallet WalletID, account AccountID,
	amount, balanceAfter Credits, hold *HoldID, memo Memo, createdAt time.Time, postings []Posting) (Transaction, error) {
	t := Transaction{id: id, tenant: tenant, typ: typ, wallet: wallet, account: account, amount: amount,
		balanceAfter: balanceAfter, hold: hold, memo: memo, createdAt: createdAt, postings: postings}
	return t, t.checkBalanced()
}

func (t Transaction) ID() TransactionID     { return t.id }
func (t Transaction) Tenant() TenantID      { return t.tenant }
func (t Transaction) Type() TransactionType { return t.typ }
func (t Transaction) Wallet() WalletID      { return t.wallet }
func (t Transaction) AccountID() AccountID  { return t.account }
func (t Transaction) Amount() Credits       { return t.amount }
func (t Transaction) BalanceAfter() Credits { return t.balanceAfter }
func (t Transaction) Hold() *HoldID         { return t.hold }
func (t Transaction) Memo() Memo            { return t.memo }
func (t Transaction) CreatedAt() time.Time  { return t.createdAt }
func (t Transaction) Postings() []Posting   { return append([]Posting(nil), t.postings...) }

// ReversalOf is the transaction a reversal reverses; nil for other types.
func (t Transaction) ReversalOf() *TransactionID {
	if t.reversalOf == nil {
		return nil
	}
	id := *t.reversalOf
	return &id
}

// RehydrateReversal adds to a stored reversal the transaction it reverses,
// which adapters may keep apart from the transaction's row; adapters only.
func RehydrateReversal(t Transaction, of TransactionID) (Transaction, error) {
	if t.typ != TransactionReversal {
		return Transaction{}, fmt.Errorf("transaction %s is a %s, not a reversal", t.id, t.typ)
	}
	t.reversalOf = &of
	return t, nil
}

// Funding is what funded the lot a grant created; zero for other transactions.
func (t Transaction) Funding() Funding {
	if t.typ != TransactionGrant {
		return Funding{}
	}
	for _, p := range t.postings {
		if !p.IsSystem() && !p.IsDebt() {
			return p.LotFunding
		}
	}
	return Funding{}
}
