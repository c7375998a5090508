// Package statuspage is Upstate's HTTP surface on Echo v4: the public status page, the public
// read API, the admin API with its keys and audit log, health and metrics.
//
// It is the only importer of Echo. Handlers are thin: they decode, call the store or the
// domain, and return errors, which one error handler (errors.go) maps to statuses.
package statuspage

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// Store is what the HTTP surface reads and changes.
type Store interface {
	store.Components
	store.Keys
	store.Audit
	store.Maintenance
	store.Incidents
	Ping(ctx context.Context) error
}

// Page is how the public page presents itself.
type Page struct {
	Title       string
	Description string
	PublicURL   string // without a trailing slash
	Location    *time.Location
	LogoURL     string
	Links       []Link
}

// Link is a header link.
type Link struct{ Title, URL string }

// Options configure a Server.
type Options struct {
	Store Store
	// Service is the one door every change goes through. Default: one on Store, Clock and SLA,
	// publishing nothing.
	Service  *service.Service
	Clock    clockwork.Clock
	Logger   *slog.Logger
	Registry *prometheus.Registry // served at /metrics; the server registers its own metrics here
	Assets   fs.FS                // holding templates/ and static/
	Page     Page
	Version  string
	// Maintenance: the notice period and announcement horizon (defaults 24h and 7 days).
	Maintenance Maintenance
	// SLA: the service-level policies incidents follow.
	SLA SLA
	// Reports computes availability reports (nil: the report endpoints answer 404).
	Reports Reporter
	// Monitors are the running monitors (nil: the monitors API answers 404). Their API needs a
	// read key unless PublicMonitors is set.
	Monitors MonitorSource // when it is also a MonitorControl, the controls and /ping are served
	// Reload, when set, serves POST /api/admin/v1/reload.
	Reload         Reloader
	PublicMonitors bool

	// CacheTTL is how long rendered public responses are reused (default 1s; a change shows
	// within it). Negative: nothing is kept (ETags, 304 and gzip still apply).
	CacheTTL       time.Duration
	RequestTimeout time.Duration // default 10s
	MaxBodyBytes   int64         // default 1 MiB
	TrustedProxies []*net.IPNet  // whose X-Forwarded-For is believed
}

// Server is the HTTP surface. It implements http.Handler.
type Server struct {
	echo      *echo.Echo
	store     Store
	clock     clockwork.Clock
	log       *slog.Logger
	page      Page
	version   string
	templates *template.Template
	auth      *authenticator
	maint     Maintenance
	sla       SLA
	md        *markdown
	reports   Reporter
	cache     *responseCache
	monitors  MonitorSource
	control   MonitorControl
	reload    Reloader
	rollups   RollupReader
	svc       *service.Service
}

// New builds the server: routes, middleware and templates. A template that does not parse is an
// error here, at start-up, never at the first request.
func New(o Options) (*Server, error) {
	var errs []error
	if o.Store == nil {
		errs = append(errs, errors.New("statuspage: Store is required"))
	}
	if o.Assets == nil {
		errs = append(errs, errors.New("statuspage: Assets is required"))
	}
	if o.Registry == nil {
		errs = append(errs, errors.New("statuspage: Registry is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Page.Location == nil {
		o.Page.Location = time.UTC
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 10 * time.Second
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = time.Second
	}
	if o.Service == nil {
		o.Service = service.New(service.Options{Store: o.Store, Clock: o.Clock, Logger: o.Logger,
			Policies: o.SLA.Policies, DefaultPolicy: o.SLA.DefaultPolicy})
	}
	tmpl, err := parseTemplates(o.Assets)
	if err != nil {
		return nil, err
	}
	s := &Server{
		echo: echo.New(), store: o.Store, clock: o.Clock, log: o.Logger.With("component", "http"),
		page: o.Page, version: o.Version, templates: tmpl,
		auth: newAuthenticator(o.Store, o.Clock.Now), maint: o.Maintenance, sla: o.SLA, md: newMarkdown(), reports: o.Reports, cache: newResponseCache(o.CacheTTL, o.Clock.Now), monitors: o.Monitors, svc: o.Service,
	}
	if s.maint.NoticePeriod == 0 {
		s.maint.NoticePeriod = 24 * time.Hour
	}
	if s.maint.Horizon == 0 {
		s.maint.Horizon = 7 * 24 * time.Hour
	}
	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = echo.ExtractIPDirect()
	if len(o.TrustedProxies) > 0 {
		opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range o.TrustedProxies {
			opts = append(opts, echo.TrustIPRange(n))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(opts...)
	}

	httpMetrics := newHTTPMetrics(o.Registry)
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "upstate_build_info", Help: "Always 1; labels name the build."}, []string{"version", "goversion"})
	o.Registry.MustRegister(build)
	build.WithLabelValues(o.Version, runtime.Version()).Set(1)

	e.Use(
		middleware.RequestID(),
		middleware.RecoverWithConfig(middleware.RecoverConfig{
			DisablePrintStack: true,
			LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
				s.log.Error("panic in handler", "path", c.Request().URL.Path, "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "err", err, "stack", string(stack))
				return err
			},
		}),
		httpMetrics.middleware,
		s.requestLogger(),
		middleware.BodyLimit(strconv.FormatInt(o.MaxBodyBytes, 10)+"B"),
		middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{Timeout: o.RequestTimeout}),
		securityHeaders(newContentSecurityPolicy(o.Page.LogoURL)),
	)

	s.cache.handler = s
	static, err := fs.Sub(o.Assets, "static")
	if err != nil {
		return nil, fmt.Errorf("statuspage: assets: %w", err)
	}
	e.GET("/", s.statusPage, s.cache.middleware)
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", staticHandler(static))))
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorHandling: promhttp.ContinueOnError})))

	e.GET("/api/v1/components", s.publicComponents, s.cache.middleware)

	admin := e.Group("/api/admin/v1")
	read, write := s.require(apikey.ScopeRead), s.require(apikey.ScopeAdmin)
	admin.GET("/components", s.listComponents, read)
	admin.POST("/components", s.createComponent, write)
	admin.GET("/components/:id", s.getComponent, read)
	admin.PATCH("/components/:id", s.updateComponent, write)
	admin.DELETE("/components/:id", s.deleteComponent, write)
	admin.GET("/keys", s.listKeys, write)
	admin.POST("/keys", s.createKey, write)
	admin.DELETE("/keys/:id", s.revokeKey, write)
	admin.GET("/audit", s.listAudit, write)
	s.routesMaintenance()
	s.routesV2()
	s.routesV2More()
	s.routesFeeds()
	s.routesBadges()
	s.routesHistory()
	if rr, ok := o.Store.(RollupReader); ok {
		s.rollups = rr
		s.routesMonitors(o.PublicMonitors)
	}
	s.routesIncidents()
	s.routesReports()
	s.routesOpenAPI()
	if ctl, ok := o.Monitors.(MonitorControl); ok {
		s.routesControl(ctl)
	}
	if o.Reload != nil {
		s.routesReload(o.Reload)
	}
	return s, nil
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// securityHeaders sets headers every response should carry, and the Content-Security-Policy
// for its kind (csp.go) once the handler has chosen its Content-Type.
func securityHeaders(csp contentSecurityPolicy) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
			h.Set("X-Frame-Options", "DENY")
			c.Response().Before(func() {
				h := c.Response().Header() // the cache may have swapped the writer since
				if p := csp.For(h.Get(echo.HeaderContentType)); p != "" && h.Get("Content-Security-Policy") == "" {
					h.Set("Content-Security-Policy", p)
				}
			})
			return next(c)
		}
	}
}

func staticHandler(static fs.FS) http.Handler {
	files := http.FileServerFS(static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

func (s *Server) requestLogger() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogURIPath: true, LogMethod: true, LogLatency: true, LogRemoteIP: true, LogRequestID: true, LogError: true,
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelDebug
			if v.Method != http.MethodGet && v.Method != http.MethodHead || v.Status >= 400 {
				level = slog.LevelInfo
			}
			if v.Status >= 500 {
				level = slog.LevelError
			}
			s.log.LogAttrs(c.Request().Context(), level, "request",
				slog.String("method", v.Method), slog.String("path", v.URIPath), slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency), slog.String("remote_ip", v.RemoteIP), slog.String("request_id", v.RequestID))
			return nil
		},
	})
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz reports whether the store answers.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("store not reachable", "err", err)
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "store not reachable"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "upstate_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "upstate_http_request_duration_seconds", Help: "HTTP request durations by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *httpMetrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		status := c.Response().Status
		if err != nil {
			if ae, _ := toAPIError(err); ae != nil {
				status = ae.Status
			}
		}
		route := c.Path()
		if route == "" || status == http.StatusNotFound && c.Param("*") != "" {
			route = "unmatched" // never a label per unknown URL
		}
		method := c.Request().Method
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		default:
			method = "other"
		}
		m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		return err
	}
}

// Run serves on ln until ctx ends, then shuts down gracefully: it stops accepting, lets in-flight
// requests finish within shutdownTimeout, and returns.
func (s *Server) Run(ctx context.Context, ln net.Listener, shutdownTimeout time.Duration) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	<-errc // Serve returns ErrServerClosed once Shutdown starts
	s.cache.wait()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
