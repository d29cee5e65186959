// Package domain holds creditd's ledger model: wallets and their lots, holds,
// and the double-entry transactions that move credits. It is pure Go: no I/O,
// no clock (time is passed in), no persistence or transport concerns.
package domain
