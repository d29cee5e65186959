package postgres

import "slices"

// staged is one table's rows as a batch's units of work left them: rows
// loaded from the database, and rows that units which succeeded wrote, which
// the batch stores when it ends. Rows are values: nothing outside changes one
// in place.
//
// V is what the batch keeps per key and R the row stored: they differ only
// where the batch keeps more than the row (a wallet's lot ids beside its row).
type staged[K comparable, V, R any] struct {
	rows    map[K]V
	written []K // keys written, in first-write order
	isDirty map[K]bool
	table   table[R]
	row     func(V) R
}

// stagedTable is a staged table as the batch stores it.
type stagedTable interface {
	// write is what to store; false when nothing was written.
	write() (tableWrite, bool)
	columns() (table string, columns []string)
}

// stage adds a staged table to the batch, stored in the order tables are staged.
func stage[K comparable, V, R any](b *batch, t table[R], row func(V) R) *staged[K, V, R] {
	s := &staged[K, V, R]{rows: map[K]V{}, isDirty: map[K]bool{}, table: t, row: row}
	b.tables = append(b.tables, s)
	return s
}

// asIs is the row function of tables whose staged value is the row itself.
func asIs[R any](r R) R { return r }

// load keeps a row as the database has it, unless the batch has one already.
func (s *staged[K, V, R]) load(k K, v V) {
	if _, ok := s.rows[k]; !ok {
		s.rows[k] = v
	}
}

func (s *staged[K, V, R]) get(k K) (V, bool) {
	v, ok := s.rows[k]
	return v, ok
}

func (s *staged[K, V, R]) write() (tableWrite, bool) {
	if len(s.written) == 0 {
		return tableWrite{}, false
	}
	rows := make([]R, len(s.written))
	for i, k := range s.written {
		rows[i] = s.row(s.rows[k])
	}
	if s.table.order != nil {
		slices.SortFunc(rows, s.table.order)
	}
	return s.table.write(rows), true
}

func (s *staged[K, V, R]) columns() (string, []string) { return s.table.name, s.table.columnNames() }

// draft is one unit of work's writes to a staged table: the unit reads them
// over the batch's rows, and they join the batch only when the unit
// succeeds, as a transaction of its own would commit or roll back. A unit
// writes a handful of rows, so they are kept in slices, in write order:
// scanning them beats hashing into a map.
type draft[K comparable, V, R any] struct {
	s    *staged[K, V, R]
	keys []K
	rows []V
}

// committer is a draft as its unit commits it.
type committer interface{ commit() }

// draftOf starts d, a draft in u, of a staged table.
func draftOf[K comparable, V, R any](u *unit, d *draft[K, V, R], s *staged[K, V, R]) {
	d.s = s
	u.drafts = append(u.drafts, d)
}

// own reads only what the unit itself wrote.
func (d *draft[K, V, R]) own(k K) (V, bool) {
	for i, key := range d.keys {
		if key == k {
			return d.rows[i], true
		}
	}
	var zero V
	return zero, false
}

func (d *draft[K, V, R]) get(k K) (V, bool) {
	if v, ok := d.own(k); ok {
		return v, true
	}
	return d.s.get(k)
}

func (d *draft[K, V, R]) put(k K, v V) {
	for i, key := range d.keys {
		if key == k {
			d.rows[i] = v
			return
		}
	}
	d.keys = append(d.keys, k)
	d.rows = append(d.rows, v)
}

// all yields every row the unit sees.
func (d *draft[K, V, R]) all(yield func(K, V) bool) {
	for i, k := range d.keys {
		if !yield(k, d.rows[i]) {
			return
		}
	}
	for k, v := range d.s.rows {
		if _, mine := d.own(k); !mine && !yield(k, v) {
			return
		}
	}
}

func (d *draft[K, V, R]) commit() {
	s := d.s
	for i, k := range d.keys {
		s.rows[k] = d.rows[i]
		if !s.isDirty[k] {
			s.isDirty[k] = true
			s.written = append(s.written, k)
		}
	}
}
