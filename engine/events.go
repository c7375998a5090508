package engine

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/events"
)

// The engine publishes on the one event stream (package events). These names keep the engine's
// own vocabulary for the kinds it publishes.
type (
	// Event is one thing that happened.
	Event = events.Event
	// EventKind names what happened.
	EventKind = events.Kind
	// Bus is the in-process event stream.
	Bus = events.Bus
)

// NewBus returns a bus whose drop counter is registered on reg (nil: not registered).
func NewBus(reg prometheus.Registerer) *Bus { return events.NewBus(reg) }

// The kinds the engine publishes.
const (
	EventMonitorState    = events.MonitorState
	EventComponentStatus = events.ComponentStatus
	EventComponentChange = events.ComponentChanged

	EventMaintenanceAnnounced = events.MaintenanceScheduled
	EventMaintenanceUpdated   = events.MaintenanceRescheduled
	EventMaintenanceReminder  = events.MaintenanceReminder
	EventMaintenanceStarted   = events.MaintenanceStarted
	EventMaintenanceCompleted = events.MaintenanceEnded

	EventIncidentOpened   = events.IncidentDeclared // by a monitor (Incident.Automatic)
	EventIncidentResolved = events.IncidentResolved
	EventSLAWarning       = events.SLAWarning
	EventSLABreach        = events.SLABreached
)
