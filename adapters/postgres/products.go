package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/uptrace/bun"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// ProductStore keeps tenants' credit packs. Like the API key store it works
// outside the group-commit unit of work: each call is a transaction of its
// own, as nothing here moves credits.
type ProductStore struct{ db *bun.DB }

var _ application.ProductStore = (*ProductStore)(nil)

// NewProductStore binds the product store to db.
func NewProductStore(db *bun.DB) *ProductStore { return &ProductStore{db: db} }

// productRow is a row of products. It sits here rather than in rows.go,
// whose rows are the unit of work's.
type productRow struct {
	bun.BaseModel `bun:"table:products"`

	TenantID           uuid.UUID       `bun:"tenant_id,pk,type:uuid"`
	ID                 string          `bun:"id,pk"`
	Name               string          `bun:"name"`
	PriceAmount        int64           `bun:"price_amount"`
	Currency           string          `bun:"currency"`
	Credits            decimal.Decimal `bun:"credits,type:numeric"`
	BonusCredits       decimal.Decimal `bun:"bonus_credits,type:numeric"`
	CreditValidityDays *int            `bun:"credit_validity_days"`
	Active             bool            `bun:"active"`
	CreatedAt          time.Time       `bun:"created_at"`
	UpdatedAt          time.Time       `bun:"updated_at"`
}

func toProductRow(p *domain.Product) productRow {
	spec := p.Spec()
	return productRow{TenantID: uuid.UUID(p.Tenant()), ID: p.ID().String(), Name: spec.Name,
		PriceAmount: spec.Price.Amount(), Currency: spec.Price.Currency().String(),
		Credits: spec.Credits.Decimal(), BonusCredits: spec.BonusCredits.Decimal(), CreditValidityDays: spec.CreditValidityDays,
		Active: p.Active(), CreatedAt: p.CreatedAt(), UpdatedAt: p.UpdatedAt()}
}

// specOf rebuilds a pack from the columns products and orders (which keep
// the pack as sold) both store.
func specOf(name string, price int64, currency string, amount, bonus decimal.Decimal, validityDays *int) (domain.ProductSpec, error) {
	c, err := domain.ParseCurrency(currency)
	if err != nil {
		return domain.ProductSpec{}, err
	}
	m, err := domain.NewMoney(price, c)
	if err != nil {
		return domain.ProductSpec{}, err
	}
	packCredits, err := credits(amount, "credits")
	if err != nil {
		return domain.ProductSpec{}, err
	}
	bonusCredits, err := credits(bonus, "bonus credits")
	if err != nil {
		return domain.ProductSpec{}, err
	}
	return domain.ProductSpec{Name: name, Price: m, Credits: packCredits, BonusCredits: bonusCredits, CreditValidityDays: validityDays}, nil
}

func (r productRow) toDomain() (*domain.Product, error) {
	id, err := domain.ParseProductID(r.ID)
	if err != nil {
		return nil, fmt.Errorf("stored product %q: %w", r.ID, err)
	}
	spec, err := specOf(r.Name, r.PriceAmount, r.Currency, r.Credits, r.BonusCredits, r.CreditValidityDays)
	if err != nil {
		return nil, fmt.Errorf("stored product %s: %w", r.ID, err)
	}
	return domain.RehydrateProduct(domain.TenantID(r.TenantID), id, spec, r.Active, r.CreatedAt.UTC(), r.UpdatedAt.UTC()), nil
}

func (s *ProductStore) Create(ctx context.Context, p *domain.Product) error {
	row := toProductRow(p)
	_, err := s.db.NewInsert().Model(&row).Exec(ctx)
	return translate(err, fmt.Sprintf("create product %s", p.ID()))
}

// Change locks the row (SELECT ... FOR UPDATE), applies fn and writes the
// result in one transaction: a concurrent Change of the same product waits
// for the lock and then sees this one's result, so neither loses the other's
// fields. One row is locked, so no deadlock can arise, and READ COMMITTED
// never fails a transaction for serialization: nothing to retry.
func (s *ProductStore) Change(ctx context.Context, tenant domain.TenantID, id domain.ProductID, fn func(p *domain.Product) error) (*domain.Product, error) {
	var changed *domain.Product
	err := s.db.RunInTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(ctx context.Context, tx bun.Tx) error {
		var row productRow
		err := tx.NewSelect().Model(&row).Where("tenant_id = ? AND id = ?", uuid.UUID(tenant), id.String()).For("UPDATE").Scan(ctx)
		if err != nil {
			return err
		}
		p, err := row.toDomain()
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
		next := toProductRow(p)
		if _, err := tx.NewUpdate().Model(&next).WherePK().ExcludeColumn("tenant_id", "id", "created_at").Exec(ctx); err != nil {
			return err
		}
		changed = p
		return nil
	})
	if err != nil {
		return nil, translate(err, fmt.Sprintf("change product %s", id))
	}
	return changed, nil
}

func (s *ProductStore) Get(ctx context.Context, tenant domain.TenantID, id domain.ProductID) (*domain.Product, error) {
	var row productRow
	err := s.db.NewSelect().Model(&row).Where("tenant_id = ? AND id = ?", uuid.UUID(tenant), id.String()).Scan(ctx)
	if err != nil {
		return nil, translate(err, fmt.Sprintf("get product %s", id))
	}
	return row.toDomain()
}

func (s *ProductStore) List(ctx context.Context, tenant domain.TenantID, activeOnly bool) ([]*domain.Product, error) {
	var rows []productRow
	q := s.db.NewSelect().Model(&rows).Where("tenant_id = ?", uuid.UUID(tenant)).OrderExpr("id")
	if activeOnly {
		q = q.Where("active")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, translate(err, "list products")
	}
	out := make([]*domain.Product, 0, len(rows))
	for _, row := range rows {
		p, err := row.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
