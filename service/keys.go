package service

import (
	"context"
	"fmt"
	"time"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
)

// Keys is the door for API keys.
type Keys struct{ *deps }

// KeyView is a key without its hash: what the audit log and the API show.
type KeyView struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Scopes    []apikey.Scope `json:"scopes"`
	CreatedAt time.Time      `json:"created_at"`
	RevokedAt *time.Time     `json:"revoked_at"`
}

// ViewKey shows a key without its hash.
func ViewKey(k apikey.Key) KeyView {
	v := KeyView{ID: k.ID, Name: k.Name, Scopes: k.Scopes, CreatedAt: k.CreatedAt}
	if k.Revoked() {
		r := k.RevokedAt
		v.RevokedAt = &r
	}
	return v
}

// Create makes and stores a new key; the token is returned once and never stored.
func (s *Keys) Create(ctx context.Context, by Actor, name string, scopes []apikey.Scope) (apikey.Key, string, error) {
	var errs []*component.FieldError
	if fe := apikey.CheckName(name); fe != nil {
		errs = append(errs, fe)
	}
	if len(scopes) == 0 {
		errs = append(errs, &component.FieldError{Field: "scopes", Message: "at least one scope is required (read, incidents, maintenance, admin)"})
	}
	for i, sc := range scopes {
		if !sc.Valid() {
			errs = append(errs, &component.FieldError{Field: fmt.Sprintf("scopes[%d]", i),
				Message: fmt.Sprintf("unknown scope %q (want read, incidents, maintenance or admin)", clip(string(sc), 40))})
		}
	}
	if err := invalid(errs); err != nil {
		return apikey.Key{}, "", err
	}
	now := s.now()
	key, token, err := apikey.Generate(nil, name, scopes, now)
	if err != nil {
		return key, "", err
	}
	if err := s.store.CreateKey(ctx, key, by.audit(now, "key.create", "key/"+key.ID, ViewKey(key))); err != nil {
		return key, "", fmt.Errorf("key %s: %w", key.ID, err)
	}
	s.publish(events.Event{Kind: events.KeyCreated, At: now, Actor: by.Name, Reason: key.ID})
	return key, token, nil
}

// Revoke revokes a key at once: store.ErrNotFound if there is none, store.ErrConflict if it is
// already revoked.
func (s *Keys) Revoke(ctx context.Context, by Actor, id string) error {
	now := s.now()
	if err := s.store.RevokeKey(ctx, id, now, by.audit(now, "key.revoke", "key/"+id, map[string]any{"revoked_at": now})); err != nil {
		return fmt.Errorf("key %s: %w", id, err)
	}
	s.publish(events.Event{Kind: events.KeyRevoked, At: now, Actor: by.Name, Reason: id})
	return nil
}

// clip shortens text quoted back in an error.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
