// Package component holds what a status page shows: components, their groups, and the five
// Statuspage status words, plus the status timeline that availability is computed from.
//
// It is a domain package: standard library only, no storage, no HTTP.
package component

import (
	"fmt"
	"regexp"
	"time"
)

// Status is a component's status, one of Statuspage's five words, or Unknown when no monitor has
// produced a fresh result yet. Unknown exists for the timeline (no data is never counted as up);
// public Statuspage-compatible output maps it explicitly.
type Status string

// The component statuses. The order of severity is Operational < DegradedPerformance <
// PartialOutage < MajorOutage; UnderMaintenance and Unknown are outside that order.
const (
	Operational         Status = "operational"
	DegradedPerformance Status = "degraded_performance"
	PartialOutage       Status = "partial_outage"
	MajorOutage         Status = "major_outage"
	UnderMaintenance    Status = "under_maintenance"
	Unknown             Status = "unknown"
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	switch s {
	case Operational, DegradedPerformance, PartialOutage, MajorOutage, UnderMaintenance, Unknown:
		return true
	}
	return false
}

// Severity orders the outage statuses: 0 for operational up to 3 for a major outage. Unknown and
// under maintenance have severity -1: they are not outages.
func (s Status) Severity() int {
	switch s {
	case Operational:
		return 0
	case DegradedPerformance:
		return 1
	case PartialOutage:
		return 2
	case MajorOutage:
		return 3
	}
	return -1
}

// Label is the status in words for people, so a page never relies on colour alone.
func (s Status) Label() string {
	switch s {
	case Operational:
		return "Operational"
	case DegradedPerformance:
		return "Degraded performance"
	case PartialOutage:
		return "Partial outage"
	case MajorOutage:
		return "Major outage"
	case UnderMaintenance:
		return "Under maintenance"
	}
	return "No data"
}

// Worst returns the most severe outage status among ss. Unknown values are ignored unless every
// value is unknown (or ss is empty), in which case the result is Unknown: one fresh monitor is
// enough to say something, and no data is never reported as operational.
func Worst(ss ...Status) Status {
	worst := Unknown
	for _, s := range ss {
		if s.Severity() < 0 {
			continue
		}
		if worst == Unknown || s.Severity() > worst.Severity() {
			worst = s
		}
	}
	return worst
}

// Source says who manages a component: the config file or the admin API. Components declared in
// the config are re-applied at every start and reload, so the API may not change or delete them.
type Source string

// The component sources.
const (
	SourceConfig Source = "config"
	SourceAPI    Source = "api"
)

// Component is one thing the page shows (API, Website), or a group of them when IsGroup is set
// (Statuspage models groups as components too).
type Component struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	GroupID     string    `json:"group_id"` // empty when the component belongs to no group
	IsGroup     bool      `json:"group"`
	Position    int       `json:"position"`
	Source      Source    `json:"source"`
	Status      Status    `json:"status"`       // current status; kept equal to the last Change
	StatusSince time.Time `json:"status_since"` // when Status began; zero if never set
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`

	// Visibility: an internal component or group shows only on the internal page and in the
	// admin API (Hidden). Absent from JSON when public.
	Visibility Visibility `json:"visibility,omitempty"`
}

// Change is one entry of a component's status timeline: from At on, the component had Status.
type Change struct {
	ComponentID string    `json:"component_id"`
	At          time.Time `json:"at"`
	Status      Status    `json:"status"`
	Reason      string    `json:"reason"`
}

// Limits on what a client may send, kept here so the config and the API enforce the same rules.
const (
	MaxNameLength        = 200
	MaxDescriptionLength = 2000
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidID reports whether id may name a component, group or monitor: 1 to 63 characters of
// lower-case letters, digits, '-' and '_', starting with a letter or digit. IDs appear in URLs.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// FieldError is a problem with one field of a value, named by its JSON/YAML field name.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Message) }

// Validate checks the fields a client sets. It returns every problem, in field order.
func (c Component) Validate() []*FieldError {
	var errs []*FieldError
	if !ValidID(c.ID) {
		errs = append(errs, &FieldError{"id", "must be 1-63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit"})
	}
	if c.Name == "" {
		errs = append(errs, &FieldError{"name", "is required"})
	} else if len(c.Name) > MaxNameLength {
		errs = append(errs, &FieldError{"name", fmt.Sprintf("must be at most %d bytes", MaxNameLength)})
	} else if fe := CheckText("name", c.Name, SingleLine); fe != nil {
		errs = append(errs, fe)
	}
	if len(c.Description) > MaxDescriptionLength {
		errs = append(errs, &FieldError{"description", fmt.Sprintf("must be at most %d bytes", MaxDescriptionLength)})
	} else if fe := CheckText("description", c.Description, MultiLine); fe != nil {
		errs = append(errs, fe)
	}
	if c.GroupID != "" && !ValidID(c.GroupID) {
		errs = append(errs, &FieldError{"group_id", "is not a valid id"})
	}
	if c.IsGroup && c.GroupID != "" {
		errs = append(errs, &FieldError{"group_id", "a group cannot belong to another group"})
	}
	if c.Position < 0 {
		errs = append(errs, &FieldError{"position", "must not be negative"})
	}
	if !c.Visibility.Valid() {
		errs = append(errs, &FieldError{"visibility", "must be public or internal"})
	}
	return errs
}
