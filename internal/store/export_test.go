package store

import "context"

// MigrateTo applies the migrations up to version, for tests of one
// migration on data stored under the schema before it.
func (db *DB) MigrateTo(ctx context.Context, version int) ([]string, error) {
	ms, err := migrations(db.Dialect)
	if err != nil {
		return nil, err
	}
	for i, m := range ms {
		if m.version > version {
			ms = ms[:i]
			break
		}
	}
	return db.apply(ctx, ms)
}
