package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/store"
)

// NotifyTargets is the door for notification targets made through the admin API
// (docs/notifications.md). Targets declared in the config file are read-only here: their ids
// are refused (ErrManagedByConfig). The rule for a target's fields is the config file's own
// (configs.CheckTarget), applied to the secret fields as expanded from the environment; the
// store keeps them as given, ${NAME} references unexpanded. Each change is audited without the
// secrets and journaled as one events.TargetChanged, which every instance's channels follow.
type NotifyTargets struct {
	*deps
	store     store.NotifyTargets
	declared  Targets
	lookupEnv func(string) (string, bool)
	usedBy    map[string][]string
}

// Limits of a target's fields beyond the config's rule: what a request may store.
const (
	MaxTargetURL        = 2048
	MaxTargetSecret     = 1024
	MaxTargetHeaders    = 32
	MaxTargetHeaderSize = 1024
	MaxTargetRecipients = 100
)

// TargetSpec is a target as an operator gives it; secret fields may hold ${NAME} references.
type TargetSpec struct {
	ID          string
	Kind        string
	URL         string
	Secret      string
	Headers     map[string]string
	To          []string
	RoutingKey  string
	Timeout     time.Duration // 0: the default (30 s)
	MaxInFlight int           // 0: the default (4)
}

// TargetPatch changes a target; nil fields stay as they are (so a secret need not be sent
// again to change something else).
type TargetPatch struct {
	Kind        *string
	URL         *string
	Secret      *string
	Headers     *map[string]string
	To          *[]string
	RoutingKey  *string
	Timeout     *time.Duration
	MaxInFlight *int
}

// Sources of a target.
const (
	TargetFromConfig = "config" // declared in the config file: read-only through the API
	TargetFromAPI    = "api"
)

// Redacted stands for a secret that is set.
const Redacted = "(redacted)"

// RedactURL shows a URL without what may be a secret: its scheme and host only (paths and
// queries hold tokens), a ${NAME} reference as it is, def when raw is empty.
func RedactURL(raw, def string) string {
	if raw == "" {
		raw = def
	}
	if raw == "" || configs.EnvReferences(raw) {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "(hidden)"
	}
	return u.Scheme + "://" + u.Host + "/..."
}

// RedactSecret shows a secret field: absent when empty, a ${NAME} reference as it is, else
// Redacted.
func RedactSecret(s string) string {
	if s == "" || configs.EnvReferences(s) {
		return s
	}
	return Redacted
}

// ViewTarget shows a stored target without its secrets.
func ViewTarget(t store.NotifyTarget) TargetInfo {
	info := TargetInfo{ID: t.ID, Kind: t.Kind, Source: TargetFromAPI, Secret: RedactSecret(t.Secret), RoutingKey: RedactSecret(t.RoutingKey),
		To: slices.Clone(t.To), Timeout: t.Timeout, TimeoutText: t.Timeout.String(), MaxInFlight: t.MaxInFlight, Version: t.Version}
	created, updated := t.CreatedAt, t.UpdatedAt
	info.CreatedAt, info.UpdatedAt = &created, &updated
	if len(t.Headers) > 0 {
		info.Headers = map[string]string{}
		for k := range t.Headers {
			info.Headers[k] = Redacted
		}
	}
	switch t.Kind {
	case "email":
		info.Destination = strings.Join(t.To, ", ")
	case "pagerduty":
		info.URL = RedactURL(t.URL, "")
		info.Destination = RedactURL(t.URL, DefaultPagerDutyURL)
	default:
		info.URL = RedactURL(t.URL, "")
		info.Destination = info.URL
	}
	return info
}

// DefaultPagerDutyURL is PagerDuty's Events API v2 endpoint, where a pagerduty target without
// a url sends.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

func (s *NotifyTargets) view(t store.NotifyTarget) TargetInfo { return s.withUse(ViewTarget(t)) }

// withUse adds the routes and escalations naming the target.
func (s *NotifyTargets) withUse(v TargetInfo) TargetInfo {
	v.UsedBy = slices.Clone(s.usedBy[v.ID])
	if v.UsedBy == nil {
		v.UsedBy = []string{}
	}
	return v
}

// check applies the config's rule and the API's limits to t; nil when it may be stored.
func (s *NotifyTargets) check(t store.NotifyTarget) error {
	ct := configs.NotifyTarget{ID: t.ID, Kind: t.Kind, URL: t.URL, Secret: t.Secret, Headers: t.Headers, To: t.To, RoutingKey: t.RoutingKey,
		Timeout: t.Timeout, MaxInFlight: t.MaxInFlight}
	expanded, errs := configs.ExpandTargetSecrets(ct, s.lookupEnv)
	unset := map[string]bool{}
	for _, fe := range errs {
		unset[fe.Field] = true
	}
	for _, fe := range configs.CheckTarget(expanded) {
		if !unset[fe.Field] { // "must be a URL" says nothing more than "${X} is not set"
			errs = append(errs, fe)
		}
	}
	limit := func(field, v string, n int) {
		if len(v) > n {
			errs = append(errs, &component.FieldError{Field: field, Message: fmt.Sprintf("must be at most %d bytes", n)})
		}
	}
	limit("url", t.URL, MaxTargetURL)
	limit("secret", t.Secret, MaxTargetSecret)
	limit("routing_key", t.RoutingKey, MaxTargetSecret)
	if len(t.Headers) > MaxTargetHeaders {
		errs = append(errs, &component.FieldError{Field: "headers", Message: fmt.Sprintf("at most %d headers", MaxTargetHeaders)})
	}
	for _, k := range slices.Sorted(maps.Keys(t.Headers)) {
		limit("headers."+k, k+t.Headers[k], MaxTargetHeaderSize)
		if strings.ContainsAny(t.Headers[k], "\r\n") {
			errs = append(errs, &component.FieldError{Field: "headers." + k, Message: "a header's value is one line"})
		}
	}
	if len(t.To) > MaxTargetRecipients {
		errs = append(errs, &component.FieldError{Field: "to", Message: fmt.Sprintf("at most %d addresses", MaxTargetRecipients)})
	}
	return invalid(errs)
}

// fromConfig refuses an id the config file declares (or a pseudo-target of the subscribers').
func (s *NotifyTargets) fromConfig(id string) error {
	if s.declared != nil && slices.Contains(s.declared.TargetIDs(), id) {
		return fmt.Errorf("target %s is declared in the config file (source: config); change it there: %w", id, ErrManagedByConfig)
	}
	return nil
}

func (s *NotifyTargets) changed(by Actor, now time.Time, id, what string, before, after any) (store.AuditEntry, events.Event) {
	a := by.audit(now, "target."+what, "target/"+id, after)
	a.Before = store.Null
	if before != nil {
		a.Before = store.MustJSON(before)
	}
	past := map[string]string{"create": "created", "update": "updated", "delete": "deleted"}[what]
	return s.journaled(a, events.Event{Kind: events.TargetChanged, At: now, Actor: by.Name, Reason: id, To: past})
}

// Create stores a new target. An id the config file declares is ErrManagedByConfig; one stored
// already is store.ErrConflict; invalid fields are a *ValidationError naming each.
func (s *NotifyTargets) Create(ctx context.Context, by Actor, spec TargetSpec) (TargetInfo, error) {
	now := s.now()
	ct := configs.NotifyTarget{Timeout: spec.Timeout, MaxInFlight: spec.MaxInFlight}.WithDefaults()
	t := store.NotifyTarget{ID: spec.ID, Kind: spec.Kind, URL: spec.URL, Secret: spec.Secret, Headers: spec.Headers, To: spec.To,
		RoutingKey: spec.RoutingKey, Timeout: ct.Timeout, MaxInFlight: ct.MaxInFlight, CreatedAt: now, UpdatedAt: now, Version: 1}
	t = store.NormalizeNotifyTarget(t)
	if err := s.check(t); err != nil {
		return TargetInfo{}, err
	}
	if err := s.fromConfig(t.ID); err != nil {
		return TargetInfo{}, err
	}
	a, ev := s.changed(by, now, t.ID, "create", nil, ViewTarget(t))
	if err := s.store.CreateNotifyTarget(ctx, t, a); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return TargetInfo{}, fmt.Errorf("target %s exists already (change it with PATCH): %w", t.ID, store.ErrConflict)
		}
		return TargetInfo{}, fmt.Errorf("target %s: %w", t.ID, err)
	}
	s.publish(ev)
	return s.view(t), nil
}

// Get returns a target by id, from the config file or the store, without its secrets.
func (s *NotifyTargets) Get(ctx context.Context, id string) (TargetInfo, error) {
	if s.declared != nil && slices.Contains(s.declared.TargetIDs(), id) {
		return s.withUse(s.declared.Describe(id)), nil
	}
	t, err := s.store.GetNotifyTarget(ctx, id)
	if err != nil {
		return TargetInfo{}, err
	}
	return s.view(t), nil
}

// List returns every target: the config file's in their order, then the API's by id.
func (s *NotifyTargets) List(ctx context.Context) ([]TargetInfo, error) {
	out := []TargetInfo{}
	if s.declared != nil {
		for _, id := range s.declared.TargetIDs() {
			out = append(out, s.withUse(s.declared.Describe(id)))
		}
	}
	ts, err := s.store.ListNotifyTargets(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		out = append(out, s.view(t))
	}
	return out, nil
}

// Update changes a target made through the API, retrying on a fresh copy if another change
// came first.
func (s *NotifyTargets) Update(ctx context.Context, by Actor, id string, p TargetPatch) (TargetInfo, error) {
	if err := s.fromConfig(id); err != nil {
		return TargetInfo{}, err
	}
	now := s.now()
	for attempt := 1; ; attempt++ {
		old, err := s.store.GetNotifyTarget(ctx, id)
		if err != nil {
			return TargetInfo{}, err
		}
		t := old
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&t.Kind, p.Kind)
		set(&t.URL, p.URL)
		set(&t.Secret, p.Secret)
		set(&t.RoutingKey, p.RoutingKey)
		if p.Headers != nil {
			t.Headers = *p.Headers
		}
		if p.To != nil {
			t.To = *p.To
		}
		if p.Timeout != nil {
			t.Timeout = *p.Timeout
		}
		if p.MaxInFlight != nil {
			t.MaxInFlight = *p.MaxInFlight
		}
		t.UpdatedAt, t.Version = now, old.Version+1
		t = store.NormalizeNotifyTarget(t)
		if err := s.check(t); err != nil {
			return TargetInfo{}, err
		}
		a, ev := s.changed(by, now, id, "update", ViewTarget(old), ViewTarget(t))
		err = s.store.UpdateNotifyTarget(ctx, t, a)
		if errors.Is(err, store.ErrConflict) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return TargetInfo{}, err
		}
		s.publish(ev)
		return s.view(t), nil
	}
}

// Delete removes a target made through the API. Its notifications still owed are not sent
// (they end dead, naming the missing target); routes naming it send it nothing more.
func (s *NotifyTargets) Delete(ctx context.Context, by Actor, id string) error {
	if err := s.fromConfig(id); err != nil {
		return err
	}
	now := s.now()
	for attempt := 1; ; attempt++ {
		old, err := s.store.GetNotifyTarget(ctx, id)
		if err != nil {
			return err
		}
		a, ev := s.changed(by, now, id, "delete", ViewTarget(old), nil)
		err = s.store.DeleteNotifyTarget(ctx, id, old.Version, a)
		if errors.Is(err, store.ErrConflict) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return err
		}
		s.publish(ev)
		return nil
	}
}

func lookupEnvOr(f func(string) (string, bool)) func(string) (string, bool) {
	if f == nil {
		return os.LookupEnv
	}
	return f
}
