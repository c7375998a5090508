package configs

import (
	"fmt"
	"time"

	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
)

// Objective is an availability target for some components, or the default for the others.
type Objective struct {
	ID           string        `yaml:"id"`
	Target       float64       `yaml:"target"`        // percent, such as 99.5
	TimeZone     string        `yaml:"time_zone"`     // months are counted in it; default server.time_zone
	Basis        string        `yaml:"basis"`         // calendar (default) or eligible
	NoticePeriod time.Duration `yaml:"notice_period"` // default maintenance.notice_period
	Weights      *Weights      `yaml:"weights"`
	Components   []string      `yaml:"components"` // empty: the default objective
}

// Weights say how much of each status counts as down.
type Weights struct {
	MajorOutage         *float64 `yaml:"major_outage"`
	PartialOutage       *float64 `yaml:"partial_outage"`
	DegradedPerformance *float64 `yaml:"degraded_performance"`
}

// DefaultTarget is the objective of components when the config sets none.
const DefaultTarget = 99.9

// ResolvedObjective is an objective ready to compute with.
type ResolvedObjective struct {
	ID        string
	Objective availability.Objective
	Location  *time.Location
	Notice    time.Duration
}

func (c *Config) validateObjectives(d *decoder) {
	components := map[string]bool{}
	for _, cm := range c.Components {
		components[cm.ID] = true
	}
	seen := map[string]string{}
	defaults := 0
	for i, o := range c.Objectives {
		path := fmt.Sprintf("objectives[%d]", i)
		if !component.ValidID(o.ID) {
			d.at(path+".id", "invalid id %q: %s", o.ID, idRule)
		}
		if o.Target <= 0 || o.Target >= 100 {
			d.at(path+".target", "must be a percentage between 0 and 100, such as 99.5")
		}
		if o.TimeZone != "" {
			if _, err := calendar.LoadZone(o.TimeZone); err != nil {
				d.at(path+".time_zone", "%v", err)
			}
		}
		switch o.Basis {
		case "", "calendar", "eligible":
		default:
			d.at(path+".basis", "unknown basis %q (want calendar or eligible)", o.Basis)
		}
		if o.NoticePeriod < 0 {
			d.at(path+".notice_period", "must not be negative")
		}
		if w := o.Weights; w != nil {
			for name, v := range map[string]*float64{"major_outage": w.MajorOutage, "partial_outage": w.PartialOutage, "degraded_performance": w.DegradedPerformance} {
				if v != nil && (*v < 0 || *v > 1) {
					d.at(path+".weights."+name, "must be between 0 and 1")
				}
			}
		}
		if len(o.Components) == 0 {
			defaults++
			if defaults > 1 {
				d.at(path+".components", "only one objective may be the default (the one without components)")
			}
		}
		for j, id := range o.Components {
			f := fmt.Sprintf("%s.components[%d]", path, j)
			switch {
			case !components[id]:
				d.at(f, "unknown component %q", id)
			case seen[id] != "":
				d.at(f, "component %q already has objective %s", id, seen[id])
			default:
				seen[id] = o.ID
			}
		}
	}
}

func (c *Config) resolve(o Objective) ResolvedObjective {
	r := ResolvedObjective{ID: o.ID, Location: c.Location, Notice: c.Maintenance.NoticePeriod,
		Objective: availability.Objective{Target: availability.Ratio(o.Target / 100), Basis: availability.BasisCalendar, Weights: availability.DefaultWeights}}
	if o.TimeZone != "" {
		r.Location, _ = calendar.LoadZone(o.TimeZone) // validated at load
	}
	if o.Basis == "eligible" {
		r.Objective.Basis = availability.BasisEligible
	}
	if o.NoticePeriod > 0 {
		r.Notice = o.NoticePeriod
	}
	if w := o.Weights; w != nil {
		for _, p := range []struct {
			v   *float64
			dst *float64
		}{{w.MajorOutage, &r.Objective.Weights.MajorOutage}, {w.PartialOutage, &r.Objective.Weights.PartialOutage}, {w.DegradedPerformance, &r.Objective.Weights.DegradedPerformance}} {
			if p.v != nil {
				*p.dst = *p.v
			}
		}
	}
	return r
}

// ObjectiveFor returns the objective of a component: its own, the default one, or 99.9 % by
// calendar month in the page's zone when the config sets none.
func (c *Config) ObjectiveFor(componentID string) ResolvedObjective {
	var def *Objective
	for i, o := range c.Objectives {
		for _, id := range o.Components {
			if id == componentID {
				return c.resolve(o)
			}
		}
		if len(o.Components) == 0 {
			def = &c.Objectives[i]
		}
	}
	if def != nil {
		return c.resolve(*def)
	}
	return c.resolve(Objective{ID: "default", Target: DefaultTarget})
}
