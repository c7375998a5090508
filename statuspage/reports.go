package statuspage

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/engine"
)

// Reporter computes availability reports. Month, MonthOf and AllMonth measure at the now
// they are given; Window at the reporter's own clock.
type Reporter interface {
	Month(ctx context.Context, componentID string, year int, month time.Month, now time.Time) (engine.ComponentReport, error)
	MonthOf(ctx context.Context, componentID string, now time.Time) (engine.ComponentReport, error)
	Window(ctx context.Context, componentID string, w calendar.Interval) (engine.ComponentReport, error)
	AllMonth(ctx context.Context, year int, month time.Month, now time.Time) ([]engine.ComponentReport, error)
	Bars(ctx context.Context, componentID string, loc *time.Location, now time.Time, days int) (engine.Bars, error)
}

// ReportView is an availability report as the API and the CLI write it: durations in seconds,
// ratios as numbers in 0..1, availability null when there was no data so far. A period in
// progress is measured up to now (elapsed_seconds of total_seconds); its budget is the whole
// period's; met is null until it is over (complete), on_track null once it is.
type ReportView struct {
	ComponentID           string   `json:"component_id"`
	Name                  string   `json:"name"`
	Objective             string   `json:"objective"`
	Start                 string   `json:"start"` // RFC 3339 in the objective's zone
	End                   string   `json:"end"`
	TimeZone              string   `json:"time_zone"`
	Target                float64  `json:"target"`
	Availability          *float64 `json:"availability"`
	Complete              bool     `json:"complete"` // the period is over: met is final
	Met                   *bool    `json:"met"`      // null while the period runs
	OnTrack               *bool    `json:"on_track"` // while it runs: met if it ended now; null once complete
	TotalSeconds          float64  `json:"total_seconds"`
	ElapsedSeconds        float64  `json:"elapsed_seconds"`  // the part measured: up to now
	EligibleSeconds       float64  `json:"eligible_seconds"` // the basis B so far
	DownSeconds           float64  `json:"down_seconds"`     // weighted
	MajorOutageSeconds    float64  `json:"major_outage_seconds"`
	PartialOutageSeconds  float64  `json:"partial_outage_seconds"`
	DegradedSeconds       float64  `json:"degraded_seconds"`
	MaintenanceSeconds    float64  `json:"maintenance_seconds"` // announced: excluded
	UnannouncedSeconds    float64  `json:"unannounced_maintenance_seconds"`
	UnknownSeconds        float64  `json:"unknown_seconds"`
	BudgetSeconds         float64  `json:"budget_seconds"` // (1 - target) x (eligible_seconds + total_seconds - elapsed_seconds)
	BudgetRemainingSecond float64  `json:"budget_remaining_seconds"`
	Incidents             []string `json:"incidents"`
	// BurnRates over the SRE Workbook's windows, keyed by window (5m, 30m, 1h, 6h, 3d),
	// measured at BurnAt.
	BurnRates map[string]float64 `json:"burn_rates,omitempty"`
	BurnAt    string             `json:"burn_rates_at,omitempty"`
}

func secs(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

// ViewReport turns a report into its written form.
func ViewReport(r engine.ComponentReport) ReportView {
	v := ReportView{ComponentID: r.ComponentID, Name: r.Name, Objective: r.ObjectiveID, TimeZone: r.Location.String(),
		Start: r.Window.Start.In(r.Location).Format(time.RFC3339), End: r.Window.End.In(r.Location).Format(time.RFC3339),
		Target: float64(r.Target), Complete: r.Complete, TotalSeconds: secs(r.Total), ElapsedSeconds: secs(r.Elapsed),
		EligibleSeconds: secs(r.Basis), DownSeconds: secs(r.Down),
		MajorOutageSeconds: secs(r.MajorOutage), PartialOutageSeconds: secs(r.PartialOut), DegradedSeconds: secs(r.Degraded),
		MaintenanceSeconds: secs(r.Maintenance), UnannouncedSeconds: secs(r.Unannounced), UnknownSeconds: secs(r.Unknown),
		BudgetSeconds: secs(r.Budget), BudgetRemainingSecond: secs(r.BudgetLeft), Incidents: r.Incidents}
	if r.Complete {
		v.Met = &r.Met
	} else {
		v.OnTrack = &r.OnTrack
	}
	if !math.IsNaN(float64(r.Availability)) {
		a := float64(r.Availability)
		v.Availability = &a
	}
	if v.Incidents == nil {
		v.Incidents = []string{}
	}
	if len(r.BurnRates) > 0 {
		v.BurnRates, v.BurnAt = r.BurnRates, r.BurnAt.UTC().Format(time.RFC3339)
	}
	return v
}

var csvHeader = []string{"component_id", "name", "objective", "start", "end", "time_zone", "target", "availability", "complete", "met", "on_track",
	"total_seconds", "elapsed_seconds", "eligible_seconds", "down_seconds", "major_outage_seconds", "partial_outage_seconds", "degraded_seconds",
	"maintenance_seconds", "unannounced_maintenance_seconds", "unknown_seconds", "budget_seconds", "budget_remaining_seconds", "incidents"}

// WriteReportsCSV writes reports as CSV with a header row: the API's format=csv and the CLI's
// report -format csv. Text cells go through csvText; numbers are written as numbers; a null
// (availability without data, met while the period runs, on_track once it is over) is empty.
func WriteReportsCSV(w io.Writer, reports []ReportView) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	b := func(x *bool) string {
		if x == nil {
			return ""
		}
		return strconv.FormatBool(*x)
	}
	for _, r := range reports {
		avail := ""
		if r.Availability != nil {
			avail = f(*r.Availability)
		}
		row := []string{csvText(r.ComponentID), csvText(r.Name), csvText(r.Objective), csvText(r.Start), csvText(r.End), csvText(r.TimeZone),
			f(r.Target), avail, strconv.FormatBool(r.Complete), b(r.Met), b(r.OnTrack),
			f(r.TotalSeconds), f(r.ElapsedSeconds), f(r.EligibleSeconds), f(r.DownSeconds), f(r.MajorOutageSeconds), f(r.PartialOutageSeconds), f(r.DegradedSeconds),
			f(r.MaintenanceSeconds), f(r.UnannouncedSeconds), f(r.UnknownSeconds), f(r.BudgetSeconds), f(r.BudgetRemainingSecond), csvText(strings.Join(r.Incidents, " "))}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvText is a text cell as a spreadsheet may open it. A cell that starts with =, +, -, @, tab
// or carriage return is a formula to Excel, LibreOffice and Google Sheets (a component named
// =HYPERLINK("http://x") would be a link, -1+2 a sum), so it gets a leading single quote, as
// OWASP's CSV injection guidance says. Only text goes through here: a negative number stays a
// number.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteReportsJSON writes reports as one JSON document.
func WriteReportsJSON(w io.Writer, reports []ReportView) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"reports": reports})
}

// ParseMonth reads YYYY-MM.
// firstYear bounds the months a query may name: a public page of any month since year 1 was a
// distinct render (and cache entry) for each of 120,000 months.
const firstYear = 2000

func ParseMonth(s string) (int, time.Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid month %q: want YYYY-MM", s)
	}
	if t.Year() < firstYear {
		return 0, 0, fmt.Errorf("invalid month %q: months before %d hold no history", s, firstYear)
	}
	return t.Year(), t.Month(), nil
}

func (s *Server) routesReports() {
	s.echo.GET("/api/v1/components/:id/availability", s.componentAvailability, s.cache.middleware)
	s.echo.GET("/api/v1/reports/monthly", s.monthlyReports, s.cache.middleware)
}

func (s *Server) reporter() (Reporter, error) {
	if s.reports == nil {
		return nil, newError(http.StatusNotFound, "not_found", "availability reports are not enabled")
	}
	return s.reports, nil
}

func (s *Server) respondReports(c echo.Context, views []ReportView) error {
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	switch c.QueryParam("format") {
	case "", "json":
		if len(views) == 1 && c.Path() == "/api/v1/components/:id/availability" {
			return c.JSON(http.StatusOK, views[0])
		}
		return c.JSON(http.StatusOK, map[string]any{"reports": views})
	case "csv":
		c.Response().Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		c.Response().WriteHeader(http.StatusOK)
		return WriteReportsCSV(c.Response(), views)
	}
	return fieldError(http.StatusBadRequest, "invalid_query", "format", "must be json or csv")
}

// notStarted answers a period that has not started: it has no figures, so 404 naming the
// parameter that chose it.
func notStarted(err error, field string) error {
	if errors.Is(err, availability.ErrNotStarted) {
		return fieldError(http.StatusNotFound, "not_started", field, "the period has not started: it has no figures yet")
	}
	return err
}

func (s *Server) componentAvailability(c echo.Context) error {
	rep, err := s.reporter()
	if err != nil {
		return err
	}
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if f := c.QueryParam("format"); f != "" && f != "json" && f != "csv" {
		return fieldError(http.StatusBadRequest, "invalid_query", "format", "must be json or csv")
	}
	// The store answers for the component as this request may see it: an internal one is as
	// missing as one that never existed (visibility.go).
	if _, err := s.store.GetComponent(c.Request().Context(), id); err != nil {
		return err
	}
	now := s.clock.Now()
	var r engine.ComponentReport
	switch {
	case c.QueryParam("month") != "":
		y, m, perr := ParseMonth(c.QueryParam("month"))
		if perr != nil {
			return fieldError(http.StatusBadRequest, "invalid_query", "month", "%v", perr)
		}
		r, err = rep.Month(c.Request().Context(), id, y, m, now)
		err = notStarted(err, "month")
	case c.QueryParam("from") != "" || c.QueryParam("to") != "":
		from, ferr := queryTime(c, "from")
		if ferr != nil {
			return ferr
		}
		to, terr := queryTime(c, "to")
		if terr != nil {
			return terr
		}
		if !to.After(from) || to.Sub(from) > 2*366*24*time.Hour {
			return fieldError(http.StatusBadRequest, "invalid_query", "to", "must be after from, at most two years later")
		}
		r, err = rep.Window(c.Request().Context(), id, calendar.Interval{Start: from, End: to})
		err = notStarted(err, "from")
	default: // this month so far, in the component's objective's zone
		r, err = rep.MonthOf(c.Request().Context(), id, now)
	}
	if err != nil {
		return err
	}
	return s.respondReports(c, []ReportView{ViewReport(r)})
}

func (s *Server) monthlyReports(c echo.Context) error {
	rep, err := s.reporter()
	if err != nil {
		return err
	}
	month := c.QueryParam("month")
	if month == "" {
		return fieldError(http.StatusBadRequest, "invalid_query", "month", "is required: YYYY-MM")
	}
	y, m, err := ParseMonth(month)
	if err != nil {
		return fieldError(http.StatusBadRequest, "invalid_query", "month", "%v", err)
	}
	reports, err := rep.AllMonth(c.Request().Context(), y, m, s.clock.Now())
	if err != nil {
		return notStarted(err, "month")
	}
	hidden, err := s.hiddenFor(c)
	if err != nil {
		return err
	}
	views := make([]ReportView, 0, len(reports))
	for _, r := range reports {
		if !hidden[r.ComponentID] {
			views = append(views, ViewReport(r))
		}
	}
	return s.respondReports(c, views)
}
