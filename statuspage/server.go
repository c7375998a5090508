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
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/locale"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/statuspage/spv2"
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
	// Language is the default language (server.language: a message file under Assets' i18n;
	// "" is English). FrameAncestors may embed the pages (CSP frame-ancestors sources; nil:
	// nobody). Brand is the operator's look (brand.go). docs/page.md.
	Language       string
	FrameAncestors []string
	Brand          Brand
}

// Link is a header link.
type Link struct{ Title, URL string }

// Options configure a Server.
type Options struct {
	Store Store
	// Service is the one door every change goes through. Default: one on Store, Clock and SLA,
	// publishing nothing.
	Service *service.Service
	// Bus is the event stream: Run follows it, so every change invalidates the response cache
	// at once and a key revoked through this instance is forgotten at once (changes.go). Nil:
	// changes show within the cache's bounds.
	Bus      *events.Bus
	Clock    clockwork.Clock
	Logger   *slog.Logger
	Registry *prometheus.Registry // served at /metrics; the server registers its own metrics here
	Assets   fs.FS                // holding templates/, static/ and i18n/
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

	// CacheTTL bounds the age of a cached page or JSON response when nothing changes (default
	// 10s; a change shows at once, by its event: cache.go, docs/page.md). Negative: nothing is
	// kept (ETags, 304 and gzip still apply).
	CacheTTL time.Duration
	// FeedCacheTTL is the same bound for the feeds, the calendar and badges (default 60s).
	FeedCacheTTL   time.Duration
	RequestTimeout time.Duration // default 10s
	// ReadTimeout bounds reading a whole request, its body included: a body that has not
	// arrived by then is answered 408 (default 30s; the headers alone get 10s).
	ReadTimeout    time.Duration
	MaxBodyBytes   int64        // default 1 MiB
	TrustedProxies []*net.IPNet // whose X-Forwarded-For is believed
	// Subscriptions configures /subscribe and the subscribers' pages (subscribe.go).
	Subscriptions Subscriptions
}

// Server is the HTTP surface. It implements http.Handler.
type Server struct {
	echo        *echo.Echo
	store       Store
	clock       clockwork.Clock
	log         *slog.Logger
	page        Page
	sp          spv2.Page // the page as Statuspage's shapes name it (its id from the public URL)
	version     string
	langs       *locale.Catalogue
	tmpl        map[string]*template.Template // by language (locale.go)
	brand       *brandView
	brandAssets map[string]brandAsset
	auth        *authenticator
	maint       Maintenance
	sla         SLA
	md          *markdown
	reports     Reporter
	cache       *responseCache
	monitors    MonitorSource
	// publicMonitors: the monitors' API and their series in the public /metrics need no key.
	publicMonitors bool
	gatherer       prometheus.Gatherer // what /metrics serves (metrics.go)
	control        MonitorControl
	reload         Reloader
	rollups        RollupReader
	svc            *service.Service
	bus            *events.Bus
	sub            atomic.Pointer[events.Subscription] // while Run follows the bus
	changes        lastChange
	readTimeout    time.Duration
	subs           *subscriptions // subscribe.go
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
		o.CacheTTL = 10 * time.Second
	}
	if o.FeedCacheTTL <= 0 {
		o.FeedCacheTTL = 60 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 30 * time.Second
	}
	if o.Service == nil {
		o.Service = service.New(service.Options{Store: o.Store, Clock: o.Clock, Logger: o.Logger,
			Policies: o.SLA.Policies, DefaultPolicy: o.SLA.DefaultPolicy})
	}
	langs, err := locale.Load(o.Assets, o.Page.Language)
	if err != nil {
		return nil, fmt.Errorf("statuspage: %w", err)
	}
	tmpl, err := parseLocalized(o.Assets, langs)
	if err != nil {
		return nil, err
	}
	s := &Server{
		echo: echo.New(), store: o.Store, clock: o.Clock, log: o.Logger.With("component", "http"),
		page: o.Page, sp: spv2.NewPage(o.Page.PublicURL, o.Page.Location), version: o.Version, langs: langs, tmpl: tmpl,
		auth: newAuthenticator(o.Store, o.Clock.Now), maint: o.Maintenance, sla: o.SLA, md: newMarkdown(), reports: o.Reports,
		cache:    newResponseCache(o.Clock, o.CacheTTL, o.FeedCacheTTL, o.RequestTimeout, cachedRoutes(langParams(langs))),
		monitors: o.Monitors, publicMonitors: o.PublicMonitors, gatherer: o.Registry, svc: o.Service, bus: o.Bus, readTimeout: o.ReadTimeout,
	}
	s.cache.handler, s.cache.staleBanner = s, s.staleBanner
	s.brand, s.brandAssets = s.newBrand(o.Page.Brand)
	s.cache.changed = func(ctx context.Context) time.Time { return s.lastChanged(ctx) }
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

	e.Pre(headAsGet)
	e.Use(
		headRouted,
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
		securityHeaders(newContentSecurityPolicy(o.Page.LogoURL, o.Page.FrameAncestors)),
		visibilityScope,
	)

	static, err := fs.Sub(o.Assets, "static")
	if err != nil {
		return nil, fmt.Errorf("statuspage: assets: %w", err)
	}
	// The public GET routes with s.cache.middleware are declared, with the query parameters
	// their responses depend on, in cachedRoutes below.
	e.GET("/", s.statusPage, s.cache.middleware)
	e.GET("/static/*", staticFiles(static))
	e.GET("/brand/:name", s.brandFile)
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.metrics) // the public view from the cache, everything to a read key (metrics.go)

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
	s.routesNotifications()
	s.routesTargets() // targets.go
	s.routesReports()
	s.routesOpenAPI()
	s.routesEmbed()
	s.routesInternal()
	s.routesSubscriptions(o.Subscriptions)
	if ctl, ok := o.Monitors.(MonitorControl); ok {
		s.routesControl(ctl)
	}
	if o.Reload != nil {
		s.routesReload(o.Reload)
	}
	registered := map[string]bool{}
	for _, r := range e.Routes() {
		registered[r.Method+" "+r.Path] = true
	}
	for path := range s.cache.routes {
		if !registered["GET "+path] {
			delete(s.cache.routes, path) // optional routes (monitors, reports) may be absent
		}
	}
	// Every read from here on shows the public view unless the route sees everything
	// (visibility.go). Routes registered above asked the store itself for what it can do.
	s.store = visibleStore{s.store}
	return s, nil
}

// cachedRoutes are the public GET routes served through the response cache (cache.go), each
// with the query parameters its response depends on: their names, the value that means the same
// as none, and their one spelling. The cache rewrites a request's query to exactly these, in
// canonical form, before the handler sees it: a handler must read no other parameter, and any
// other parameter a client sends is ignored and never makes a new cache entry. docs/page.md
// lists them with their bounds.
func cachedRoutes(lang []cacheParam) []cacheRoute {
	component := cacheParam{name: "component"}
	month := cacheParam{name: "month", norm: canonicalMonth}
	from, to := cacheParam{name: "from", norm: canonicalTime}, cacheParam{name: "to", norm: canonicalTime}
	format := cacheParam{name: "format", def: "json"}
	return []cacheRoute{
		{path: "/", params: lang, lastGood: true},
		{path: "/history", params: with(lang, month), lastGood: true},
		{path: "/incidents/:id", params: lang, lastGood: true},
		{path: "/embed", params: lang, lastGood: true},
		{path: "/embed/status.svg", params: lang, class: classFeed},
		{path: "/maintenance/:id", params: lang, lastGood: true},
		{path: "/subscribe", params: lang, lastGood: true},
		{path: "/api/v1/components"},
		{path: "/metrics", maxAge: metricsMaxAge},
		{path: "/api/v1/incidents", params: []cacheParam{{name: "status", def: "all"}, {name: "severity"}, component,
			{name: "limit", def: "50", norm: canonicalInt}}},
		{path: "/api/v1/incidents/:id"},
		{path: "/api/v1/maintenance/occurrences", params: []cacheParam{from, to, component}},
		{path: "/api/v1/components/:id/availability", params: []cacheParam{month, from, to, format}},
		{path: "/api/v1/reports/monthly", params: []cacheParam{month, format}},
		{path: "/api/v2/summary.json"},
		{path: "/api/v2/status.json"},
		{path: "/api/v2/components.json"},
		{path: "/api/v2/incidents.json"},
		{path: "/api/v2/incidents/unresolved.json"},
		{path: "/api/v2/scheduled-maintenances.json"},
		{path: "/api/v2/scheduled-maintenances/upcoming.json"},
		{path: "/api/v2/scheduled-maintenances/active.json"},
		{path: "/history.rss", params: with(lang, component), class: classFeed},
		{path: "/feed.rss", params: with(lang, component), class: classFeed},
		{path: "/history.atom", params: with(lang, component), class: classFeed},
		{path: "/feed.atom", params: with(lang, component), class: classFeed},
		{path: "/feed.json", params: with(lang, component), class: classFeed},
		{path: "/maintenance.ics", params: with(lang, component), class: classFeed},
		// The badge handler cuts a label at 60 bytes with an ellipsis: 61 keep that it was cut.
		{path: "/badge/:id/:kind", params: with(lang, cacheParam{name: "label", norm: func(v string) string { return v[:min(len(v), 61)] }},
			cacheParam{name: "window", def: "30d"}), class: classFeed, entries: 1024},
	}
}

// with is a localized route's parameters: the language's (langParams) and its own.
func with(lang []cacheParam, own ...cacheParam) []cacheParam {
	return append(slices.Clone(lang), own...)
}

// canonicalMonth spells a month YYYY-MM; canonicalTime spells an instant in RFC 3339 UTC;
// canonicalInt drops leading zeros and signs. A value that does not parse stays as it is, for
// the handler to refuse.
func canonicalMonth(v string) string {
	if y, m, err := ParseMonth(v); err == nil {
		return fmt.Sprintf("%04d-%02d", y, int(m))
	}
	return v
}

// canonicalTime is a time in UTC to the second: finer parts would each be a render of their own.
func canonicalTime(v string) string {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	return v
}

func canonicalInt(v string) string {
	if n, err := strconv.Atoi(v); err == nil {
		return strconv.Itoa(n)
	}
	return v
}

// headAsGet answers HEAD on every GET route, without a route of its own (Echo v4 answers 405
// to HEAD wherever it is not registered). HEAD is routed as GET, through the GET route's
// middleware, cache and handler, which see a GET; only the body is dropped, so the status and
// headers are the GET's (Content-Length too where the GET sets it, as the cache does). Echo
// v4.16 routes by the server's own *http.Request, so its method is GET until routing is done
// (headRouted) and HEAD again before anything is written, for net/http to send no body either.
func headAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		orig := c.Request()
		if orig.Method != http.MethodHead {
			return next(c)
		}
		orig.Method = http.MethodGet
		get := *orig
		c.SetRequest(&get)
		c.Set(contextKeyHead, orig)
		c.Response().Writer = headWriter{c.Response().Writer} // an error page written later is dropped too
		return next(c)
	}
}

// headRouted gives a HEAD request routed as GET (headAsGet) its method back on the server's
// own request, once routing is done.
func headRouted(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if orig, ok := c.Get(contextKeyHead).(*http.Request); ok {
			orig.Method = http.MethodHead
		}
		return next(c)
	}
}

const contextKeyHead = "upstate.head"

// clientMethod is the request's method as the client sent it (HEAD is routed as GET).
func clientMethod(c echo.Context) string {
	if _, head := c.Get(contextKeyHead).(*http.Request); head {
		return http.MethodHead
	}
	return c.Request().Method
}

// headWriter drops a response's body.
type headWriter struct{ http.ResponseWriter }

func (w headWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w headWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// isRender reports whether a request is the response cache's own render.
func isRender(c echo.Context) bool { return c.Request().Context().Value(flightKey{}) != nil }

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
			c.Response().Before(func() {
				h := c.Response().Header() // the cache may have swapped the writer since
				ct := h.Get(echo.HeaderContentType)
				if p := csp.For(ct); p != "" && h.Get("Content-Security-Policy") == "" {
					h.Set("Content-Security-Policy", p)
				}
				// X-Frame-Options for browsers without frame-ancestors; a page that may be
				// framed (server.frame_ancestors) says so in its policy alone.
				if !csp.framed(ct) {
					h.Set("X-Frame-Options", "DENY")
				}
			})
			return next(c)
		}
	}
}

// staticFiles serves the stylesheet and images. A name that is not a file is the error
// handler's 404 (a page for a browser), not the file server's plain text or directory listing.
func staticFiles(static fs.FS) echo.HandlerFunc {
	files := http.StripPrefix("/static/", staticHandler(static))
	return func(c echo.Context) error {
		if st, err := fs.Stat(static, c.Param("*")); err != nil || st.IsDir() {
			return newError(http.StatusNotFound, "not_found", "no such file")
		}
		files.ServeHTTP(c.Response(), c.Request())
		return nil
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
		Skipper:   isRender, // the client's request is logged, not the cache's render for it
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
				slog.String("method", clientMethod(c)), slog.String("path", v.URIPath), slog.Int("status", v.Status),
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
		if isRender(c) {
			return next(c) // counted as the client's request that caused it
		}
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
		method := clientMethod(c)
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
	stopEvents := s.followEvents()
	defer stopEvents()
	s.lastChanged(ctx) // loaded from the store now, not by the first request
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: min(10*time.Second, s.readTimeout),
		ReadTimeout:       s.readTimeout,
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
