package statuspage

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/locale"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// Subscriptions (docs/subscribers.md): the page's form to subscribe by email or webhook, the
// confirm, manage and unsubscribe pages its mails link to (all without JavaScript, under the
// page's CSP), and the admin API's subscribers. Every change goes through service.Subscribers.

// Subscriptions configure the subscription pages.
type Subscriptions struct {
	// Enabled: the page offers subscriptions (a mail server is configured). Off, /subscribe
	// lists the feeds only and the subscription pages answer 404.
	Enabled bool
	// Webhooks: the form offers a webhook as well as email.
	Webhooks bool
	// Chats: the form offers a chat room (a shoutrrr URL) as well.
	Chats bool
}

// subscriptions holds the pages' configuration. The per-client limit is the service's
// (service.Subscribers.AllowClient), counted in the store.
type subscriptions struct {
	o Subscriptions
}

func (s *Server) routesSubscriptions(o Subscriptions) {
	reader, ok := s.store.(subscriberReader)
	if s.svc.Subscribers == nil || !ok {
		o.Enabled = false
	}
	s.subs = &subscriptions{o: o}
	e := s.echo
	e.GET("/subscribe", s.subscribePage, s.cache.middleware)
	offered := s.offered // without subscriptions, the pages below answer 404
	e.POST("/subscribe", s.subscribe, offered)
	e.GET("/subscriptions/confirm", s.confirmPage, offered)
	e.POST("/subscriptions/confirm", s.confirm, offered)
	e.GET("/subscriptions/manage", s.managePage, offered)
	e.POST("/subscriptions/manage", s.manage, offered)
	e.GET("/subscriptions/unsubscribe", s.unsubscribePage, offered)
	e.POST("/subscriptions/unsubscribe", s.unsubscribe, offered)
	if !ok || s.svc.Subscribers == nil {
		return
	}
	// The admin API works without a mail server too: an operator can still list, export and
	// delete subscribers.
	admin := e.Group("/api/admin/v1")
	write := s.require(apikey.ScopeAdmin) // addresses are personal data: the admin scope only
	h := &subscriberHandlers{s: s, door: s.svc.Subscribers, read: reader}
	admin.GET("/subscribers", h.list, write)
	admin.POST("/subscribers", h.add, write)
	admin.GET("/subscribers/export", h.export, write)
	admin.POST("/subscribers/import", h.importCSV, write)
	admin.GET("/subscribers/:id", h.get, write)
	admin.DELETE("/subscribers/:id", h.remove, write)
}

// offered answers 404 while the page offers no subscriptions.
func (s *Server) offered(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.subscribeOn() {
			return newError(http.StatusNotFound, "not_found", "this page offers no subscriptions")
		}
		return next(c)
	}
}

// subscribeOn reports whether the page offers subscriptions (for the page's link).
func (s *Server) subscribeOn() bool { return s.subs != nil && s.subs.o.Enabled }

// The pages.

type choiceView struct {
	ID, Name string
	Checked  bool
}

type choiceGroup struct {
	ID, Name   string // empty for the components outside any group
	Checked    bool   // the group itself is chosen
	Components []choiceView
}

type languageChoice struct {
	Tag, Name string
	Selected  bool
}

// subscriptionForm is what a form said, to show it again with its errors.
type subscriptionForm struct {
	Channel, Address, URL, ChatURL, Language string
	Some, ComponentUpdates                   bool
	Chosen                                   map[string]bool
}

type subscribeView struct {
	pageView
	Enabled, Webhooks, Chats bool
	Sent                     bool
	Groups                   []choiceGroup
	Languages                []languageChoice
	Form                     subscriptionForm
	Errors                   map[string]string
}

// choices are the public components by group, with the chosen ones checked.
func (s *Server) choices(c echo.Context, chosen map[string]bool) ([]choiceGroup, error) {
	cs, err := s.store.ListComponents(c.Request().Context())
	if err != nil {
		return nil, err
	}
	var groups []choiceGroup
	index := map[string]int{}
	loose := choiceGroup{}
	for _, comp := range cs {
		if comp.IsGroup {
			index[comp.ID] = len(groups)
			groups = append(groups, choiceGroup{ID: comp.ID, Name: comp.Name, Checked: chosen[comp.ID]})
		}
	}
	for _, comp := range cs {
		if comp.IsGroup {
			continue
		}
		v := choiceView{ID: comp.ID, Name: comp.Name, Checked: chosen[comp.ID]}
		if i, ok := index[comp.GroupID]; ok {
			groups[i].Components = append(groups[i].Components, v)
		} else {
			loose.Components = append(loose.Components, v)
		}
	}
	groups = slices.DeleteFunc(groups, func(g choiceGroup) bool { return len(g.Components) == 0 })
	if len(loose.Components) > 0 {
		groups = append(groups, loose)
	}
	return groups, nil
}

func (s *Server) languageChoices(selected string) []languageChoice {
	var out []languageChoice
	for _, l := range s.langs.Locales() {
		out = append(out, languageChoice{Tag: l.Tag(), Name: l.Name(), Selected: l.Tag() == selected})
	}
	return out
}

func (s *Server) subscribeView(c echo.Context, form subscriptionForm) (subscribeView, error) {
	v := subscribeView{pageView: s.basePage(c, s.clock.Now()), Enabled: s.subs.o.Enabled, Webhooks: s.subs.o.Webhooks, Chats: s.subs.o.Chats, Form: form, Errors: map[string]string{}}
	if form.Language == "" {
		v.Form.Language = s.locale(c).Tag()
	}
	v.Languages = s.languageChoices(v.Form.Language)
	groups, err := s.choices(c, form.Chosen)
	v.Groups = groups
	return v, err
}

// subscribePage: GET /subscribe, the form (cached: the same for everyone in a language).
func (s *Server) subscribePage(c echo.Context) error {
	v, err := s.subscribeView(c, subscriptionForm{Channel: "email"})
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "subscribe.html", v)
}

// formValues reads a form body strictly: url-encoded, within the body limit.
func formValues(c echo.Context) (url.Values, error) {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if ct != "" && !strings.HasPrefix(ct, echo.MIMEApplicationForm) {
		return nil, newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send a form (application/x-www-form-urlencoded)")
	}
	if err := c.Request().ParseForm(); err != nil {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) {
			return nil, err
		}
		return nil, newError(http.StatusBadRequest, "bad_request", "the form does not parse")
	}
	return c.Request().PostForm, nil
}

// privatePage marks a response that holds one subscriber's data.
func privatePage(c echo.Context) {
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "private, no-store")
	h.Set("X-Robots-Tag", "noindex")
}

// subscribe: POST /subscribe. The answer is the same whether the address was subscribed or
// not, whether its mail was sent or held back by its hourly limit, and when the honeypot was
// filled (a bot is told it succeeded and nothing happens). Only invalid input is shown back.
func (s *Server) subscribe(c echo.Context) error {
	privatePage(c)
	if !s.sameOrigin(c) {
		return crossSite(c) // before the limit: another site's forms spend no one's share
	}
	form, err := formValues(c)
	if err != nil {
		return err
	}
	f := subscriptionForm{Channel: form.Get("channel"), Address: form.Get("address"), URL: form.Get("url"), ChatURL: form.Get("chat_url"), Language: form.Get("language"),
		Some: form.Get("scope") == "some", ComponentUpdates: form.Get("component_updates") != "", Chosen: map[string]bool{}}
	if f.Channel == "" {
		f.Channel = "email"
	}
	if f.Some {
		for _, id := range form["components"] {
			f.Chosen[id] = true
		}
	}
	wait, ok, err := s.svc.Subscribers.AllowClient(c.Request().Context(), c.RealIP())
	if err != nil {
		return err
	}
	if !ok {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		return newError(http.StatusTooManyRequests, "rate_limited", "%s", s.locale(c).T("subscribe.limited"))
	}
	l := s.locale(c)
	if form.Get("website") != "" { // the honeypot: people never see it
		s.log.Debug("subscription request with the honeypot filled; ignored", "remote_ip", c.RealIP())
		v, err := s.subscribeView(c, f)
		v.Sent = true
		if err != nil {
			return err
		}
		return s.render(c, http.StatusOK, "subscribe.html", v)
	}
	req := service.SubscribeRequest{Channel: store.SubscriberChannel(f.Channel), Address: f.Address, URL: f.URL, ComponentUpdates: f.ComponentUpdates, Language: f.Language}
	switch {
	case f.Channel == "webhook" && !s.subs.o.Webhooks, f.Channel == "chat" && !s.subs.o.Chats:
		req.Channel = "email"
	case f.Channel == "chat":
		req.URL = f.ChatURL // the webhook's field is not the chat's
	}
	for id := range f.Chosen {
		req.Components = append(req.Components, id)
	}
	slices.Sort(req.Components)
	errs := map[string]string{}
	if f.Some && len(req.Components) == 0 {
		errs["components"] = l.T("subscribe.error_none_chosen")
	}
	if len(errs) == 0 {
		err = s.svc.Subscribers.Subscribe(c.Request().Context(), by(c), req)
		var ve *service.ValidationError
		switch {
		case errors.As(err, &ve):
			for _, fe := range ve.Fields {
				field := fe.Field
				if field == "url" && req.Channel == store.SubscriberChat {
					field = "chat_url"
				}
				errs[field] = fieldHelp(l, field) + " (" + fe.Message + ")"
				if field == "chat_url" && fe.Message == service.ErrSelfHostedChat.Error() {
					scheme, _, _ := strings.Cut(strings.TrimSpace(req.URL), ":")
					errs[field] = l.T("subscribe.error_self_hosted_chat", "Service", scheme)
				}
			}
		case err != nil:
			return err
		}
	}
	v, verr := s.subscribeView(c, f)
	if verr != nil {
		return verr
	}
	if len(errs) > 0 {
		v.Errors = errs
		return s.render(c, http.StatusUnprocessableEntity, "subscribe.html", v)
	}
	v.Sent = true
	return s.render(c, http.StatusOK, "subscribe.html", v)
}

// fieldHelp is what the form says of an invalid field, before the service's own words.
func fieldHelp(l *locale.Locale, field string) string {
	switch field {
	case "address":
		return l.T("subscribe.error_address")
	case "url":
		return l.T("subscribe.error_url")
	case "chat_url":
		return l.T("subscribe.error_chat_url")
	case "components":
		return l.T("subscribe.error_components")
	case "language":
		return l.T("subscribe.error_language")
	}
	return l.T("subscribe.error_channel")
}

// subscriptionView is one subscriber's page: confirm, confirmed, manage, saved, leave, left,
// or a link that does not work.
type subscriptionView struct {
	pageView
	Mode       string
	Token      string
	Channel    string
	Address    string
	URL        string
	Secret     string // a webhook's signing secret, on the answer that confirmed it only
	Following  string // the components it follows, in words
	State      string
	Groups     []choiceGroup
	All        bool
	Updates    bool
	Languages  []languageChoice
	ManageURL  string
	Problem    string
	FieldError string
	Refused    bool // a self-hosted chat the page no longer posts to: it cannot be resumed
}

func (s *Server) subscriptionView(c echo.Context, mode, token string, sub store.Subscriber) (subscriptionView, error) {
	l := s.locale(c)
	v := subscriptionView{pageView: s.basePage(c, s.clock.Now()), Mode: mode, Token: token, Channel: string(sub.Channel), Address: sub.Address,
		URL: sub.URL, State: string(sub.State), All: len(sub.Components) == 0, Updates: sub.ComponentUpdates}
	if sub.Channel == store.SubscriberChat {
		v.URL = service.ChatDestination(sub.URL) // the URL holds the room's token: never shown back
		v.Refused = s.svc.Subscribers.ChatRefused(sub)
	}
	chosen := map[string]bool{}
	for _, id := range sub.Components {
		chosen[id] = true
	}
	groups, err := s.choices(c, chosen)
	if err != nil {
		return v, err
	}
	v.Groups = groups
	var names []string
	for _, g := range groups {
		if g.Checked {
			names = append(names, g.Name)
		}
		for _, comp := range g.Components {
			if comp.Checked {
				names = append(names, comp.Name)
			}
		}
	}
	v.Following = l.List(names)
	if v.All {
		v.Following = l.T("subscription.all")
	}
	lang := sub.Language
	if _, ok := s.langs.Supported(lang); !ok {
		lang = s.langs.Default().Tag()
	}
	v.Languages = s.languageChoices(lang)
	return v, nil
}

// badLink answers a link that does not work: 404 for one that names no subscription (gone, or
// never ours), 400 for one that is not a link of ours at all.
func (s *Server) badLink(c echo.Context, err error) error {
	l := s.locale(c)
	v, verr := s.subscriptionView(c, "bad_link", "", store.Subscriber{})
	if verr != nil {
		return verr
	}
	v.Problem = l.T("subscription.bad_link")
	if strings.Contains(err.Error(), "the link expired") {
		v.Problem = l.T("subscription.expired")
	}
	return s.render(c, http.StatusNotFound, "subscription.html", v)
}

func linkToken(c echo.Context) string {
	t := c.QueryParam("t")
	if t == "" && c.Request().Method == http.MethodPost {
		t = c.FormValue("t")
	}
	if len(t) > 200 {
		return ""
	}
	return t
}

// confirmPage: GET /subscriptions/confirm?t= shows what the link confirms, with a button: a
// mail scanner that fetches links confirms nothing. Once the subscription is confirmed, the
// link (which lives 48 hours, in a forwarded mail or a proxy's log) says so and shows nothing of
// it: not its address, not its manage link, not a webhook's secret.
func (s *Server) confirmPage(c echo.Context) error {
	privatePage(c)
	token := linkToken(c)
	sub, err := s.svc.Subscribers.Pending(c.Request().Context(), token)
	if errors.Is(err, service.ErrBadLink) {
		return s.badLink(c, err)
	}
	if err != nil {
		return err
	}
	if sub.State != store.SubscriberPending {
		return s.confirmedAlready(c)
	}
	v, err := s.subscriptionView(c, "confirm", token, sub)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "subscription.html", v)
}

// confirm: POST /subscriptions/confirm (t in the form or the query). The answer that confirms
// the subscription shows its manage link and a webhook's signing secret, once; a confirmation
// link used again answers that it is confirmed already, with neither.
func (s *Server) confirm(c echo.Context) error {
	privatePage(c)
	if !s.sameOrigin(c) {
		return crossSite(c)
	}
	if _, err := formValues(c); err != nil {
		return err
	}
	sub, first, err := s.svc.Subscribers.Confirm(c.Request().Context(), by(c), linkToken(c))
	if err == nil && !first {
		return s.confirmedAlready(c)
	}
	if errors.Is(err, service.ErrBadLink) {
		return s.badLink(c, err)
	}
	if err != nil {
		return err
	}
	v, err := s.subscriptionView(c, "confirmed", "", sub)
	if err != nil {
		return err
	}
	v.ManageURL = "/subscriptions/manage?t=" + url.QueryEscape(service.ManageToken(sub))
	if sub.Channel == store.SubscriberWebhook {
		v.Secret = sub.Secret
	}
	return s.render(c, http.StatusOK, "subscription.html", v)
}

// confirmedAlready answers a confirmation link whose subscription is confirmed: that, and
// nothing of the subscription.
func (s *Server) confirmedAlready(c echo.Context) error {
	v, err := s.subscriptionView(c, "confirmed_already", "", store.Subscriber{})
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "subscription.html", v)
}

// subscriptionAnswer answers a subscriber's link: subscription.html at step for sub with its
// status code (and a field's error, if any), or, when the service refused, the bad-link page
// for a bad or expired link and the error itself otherwise.
func (s *Server) subscriptionAnswer(c echo.Context, code int, step, token string, sub store.Subscriber, err error, fieldError string) error {
	if errors.Is(err, service.ErrBadLink) {
		return s.badLink(c, err)
	}
	if err != nil {
		return err
	}
	v, err := s.subscriptionView(c, step, token, sub)
	if err != nil {
		return err
	}
	v.FieldError = fieldError
	return s.render(c, code, "subscription.html", v)
}

// managePage: GET /subscriptions/manage?t=.
func (s *Server) managePage(c echo.Context) error {
	privatePage(c)
	token := linkToken(c)
	sub, err := s.svc.Subscribers.Open(c.Request().Context(), token)
	return s.subscriptionAnswer(c, http.StatusOK, "manage", token, sub, err, "")
}

// manage: POST /subscriptions/manage: the components, the language, status changes, resuming a
// suspended webhook.
func (s *Server) manage(c echo.Context) error {
	privatePage(c)
	if !s.sameOrigin(c) {
		return crossSite(c)
	}
	form, err := formValues(c)
	if err != nil {
		return err
	}
	token := linkToken(c)
	ch := service.SubscriberChange{ComponentUpdates: form.Get("component_updates") != "", Language: form.Get("language"), Resume: form.Get("resume") != ""}
	if form.Get("scope") == "some" {
		ch.Components = form["components"]
		if len(ch.Components) == 0 {
			sub, err := s.svc.Subscribers.Open(c.Request().Context(), token)
			return s.subscriptionAnswer(c, http.StatusUnprocessableEntity, "manage", token, sub, err, s.locale(c).T("subscribe.error_none_chosen"))
		}
	}
	sub, err := s.svc.Subscribers.Change(c.Request().Context(), by(c), token, ch)
	if ve := (*service.ValidationError)(nil); errors.As(err, &ve) {
		return validationError(ve.Fields)
	}
	return s.subscriptionAnswer(c, http.StatusOK, "saved", token, sub, err, "")
}

// unsubscribePage: GET /subscriptions/unsubscribe?t= asks first: a prefetched link leaves
// nothing.
func (s *Server) unsubscribePage(c echo.Context) error {
	privatePage(c)
	token := linkToken(c)
	sub, err := s.svc.Subscribers.Open(c.Request().Context(), token)
	return s.subscriptionAnswer(c, http.StatusOK, "leave", token, sub, err, "")
}

// unsubscribe: POST /subscriptions/unsubscribe?t=, RFC 8058's one-click unsubscribe (a body of
// List-Unsubscribe=One-Click, no cookie, no login) and the page's own button alike. The
// subscriber is deleted for real. A link whose subscription is gone already answers the same
// page: the request is done either way. The page's button is held to sameOrigin; a one-click
// POST is not, since mail providers send it from their own servers (RFC 8058 asks for no more
// than the body and the link's token, which is the authority either way).
func (s *Server) unsubscribe(c echo.Context) error {
	privatePage(c)
	form, err := formValues(c)
	if err != nil {
		return err
	}
	if form.Get("List-Unsubscribe") != "One-Click" && !s.sameOrigin(c) {
		return crossSite(c)
	}
	token := linkToken(c)
	err = s.svc.Subscribers.Unsubscribe(c.Request().Context(), by(c), token)
	if errors.Is(err, service.ErrBadLink) && !strings.Contains(err.Error(), "no longer exists") {
		return s.badLink(c, err)
	}
	if err != nil && !errors.Is(err, service.ErrBadLink) {
		return err
	}
	v, err := s.subscriptionView(c, "left", "", store.Subscriber{})
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "subscription.html", v)
}

// The admin API.

// subscriberReader reads subscribers: a store that keeps them serves the admin API's.
type subscriberReader interface {
	GetSubscriber(ctx context.Context, id string) (store.Subscriber, error)
	ListSubscribers(ctx context.Context, q store.SubscriberQuery) ([]store.Subscriber, error)
}

type subscriberHandlers struct {
	s    *Server
	door *service.Subscribers
	read subscriberReader
}

// subscriberView is a subscriber as the admin API shows it: never its link key; a webhook's
// secret and a chat's whole URL (it holds the room's token) only on a single read, a chat's
// service and host in lists.
type subscriberView struct {
	ID               string     `json:"id"`
	Channel          string     `json:"channel"`
	Address          string     `json:"address"`
	URL              string     `json:"url,omitempty"`
	Components       []string   `json:"components"`
	ComponentUpdates bool       `json:"component_updates"`
	Language         string     `json:"language"`
	State            string     `json:"state"`
	Source           string     `json:"source"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	ConfirmedAt      *time.Time `json:"confirmed_at"`
	FailingSince     *time.Time `json:"failing_since"`
	SuspendedAt      *time.Time `json:"suspended_at"`
	Secret           string     `json:"secret,omitempty"`
}

func viewSubscriber(sub store.Subscriber, full bool) subscriberView {
	v := subscriberView{ID: sub.ID, Channel: string(sub.Channel), Address: sub.Address, URL: sub.URL, Components: sub.Components,
		ComponentUpdates: sub.ComponentUpdates, Language: sub.Language, State: string(sub.State), Source: sub.Source, CreatedAt: sub.CreatedAt,
		UpdatedAt: sub.UpdatedAt, ConfirmedAt: optTime(sub.ConfirmedAt), FailingSince: optTime(sub.FailingSince), SuspendedAt: optTime(sub.SuspendedAt)}
	if v.Components == nil {
		v.Components = []string{}
	}
	if full {
		v.Secret = sub.Secret
	} else if sub.Channel == store.SubscriberChat {
		v.URL = service.ChatDestination(sub.URL)
	}
	return v
}

type subscriberList struct {
	Subscribers []subscriberView `json:"subscribers"`
	// Next is the after= of the next page (absent on the last).
	Next string `json:"next,omitempty"`
}

// query reads the list's filters: state, channel, component (its group counts too), after,
// limit.
func (h *subscriberHandlers) query(c echo.Context, limitDefault int) (store.SubscriberQuery, error) {
	q := store.SubscriberQuery{Limit: limitDefault}
	for name := range c.QueryParams() {
		switch name {
		case "state", "channel", "component", "after", "limit":
		default:
			return q, fieldError(http.StatusBadRequest, "unknown_parameter", name, "unknown parameter %q (want state, channel, component, after or limit)", truncate(name, 40))
		}
	}
	if st := c.QueryParam("state"); st != "" {
		q.State = store.SubscriberState(st)
		if !q.State.Valid() {
			return q, fieldError(http.StatusBadRequest, "invalid_parameter", "state", "unknown state %q (want pending, confirmed or suspended)", truncate(st, 40))
		}
	}
	if ch := c.QueryParam("channel"); ch != "" {
		q.Channel = store.SubscriberChannel(ch)
		if !q.Channel.Valid() {
			return q, fieldError(http.StatusBadRequest, "invalid_parameter", "channel", "unknown channel %q (want email, webhook or chat)", truncate(ch, 40))
		}
	}
	if id := c.QueryParam("component"); id != "" {
		comp, err := h.s.store.GetComponent(c.Request().Context(), id)
		if errors.Is(err, store.ErrNotFound) || !component.ValidID(id) {
			return q, fieldError(http.StatusBadRequest, "invalid_parameter", "component", "no component %q", truncate(id, 63))
		}
		if err != nil {
			return q, err
		}
		q.Components = []string{id}
		if comp.GroupID != "" {
			q.Components = append(q.Components, comp.GroupID)
		}
	}
	if a := c.QueryParam("after"); a != "" {
		if !component.ValidID(a) {
			return q, fieldError(http.StatusBadRequest, "invalid_parameter", "after", "not a subscriber id")
		}
		q.After = a
	}
	if l := c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxSubscriberLimit {
			return q, fieldError(http.StatusBadRequest, "invalid_parameter", "limit", "must be an integer from 1 to %d", store.MaxSubscriberLimit)
		}
		q.Limit = n
	}
	return q, nil
}

// list: GET /api/admin/v1/subscribers?state=&channel=&component=&after=&limit=
func (h *subscriberHandlers) list(c echo.Context) error {
	q, err := h.query(c, 100)
	if err != nil {
		return err
	}
	subs, err := h.read.ListSubscribers(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := subscriberList{Subscribers: make([]subscriberView, len(subs))}
	for i, sub := range subs {
		out.Subscribers[i] = viewSubscriber(sub, false)
	}
	if len(subs) == q.Limit {
		out.Next = subs[len(subs)-1].ID
	}
	return c.JSON(http.StatusOK, out)
}

func (h *subscriberHandlers) get(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	sub, err := h.read.GetSubscriber(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewSubscriber(sub, true))
}

type addSubscriber struct {
	service.SubscribeRequest
	// Confirmed adds the subscriber confirmed: the operator vouches for the address (no mail).
	Confirmed bool `json:"confirmed"`
}

// add: POST /api/admin/v1/subscribers.
func (h *subscriberHandlers) add(c echo.Context) error {
	var body addSubscriber
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	sub, err := h.door.Add(c.Request().Context(), by(c), body.SubscribeRequest, body.Confirmed)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, viewSubscriber(sub, true))
}

// remove: DELETE /api/admin/v1/subscribers/{id}: deleted for real (a person's request).
func (h *subscriberHandlers) remove(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := h.door.Remove(c.Request().Context(), by(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// subscriberColumns is the export's columns; an import needs address and reads the ones it knows.
var subscriberColumns = []string{"id", "channel", "address", "url", "state", "components", "component_updates", "language", "created_at", "confirmed_at"}

// export: GET /api/admin/v1/subscribers/export?state=&channel=&component= writes CSV, every
// page of the list.
func (h *subscriberHandlers) export(c echo.Context) error {
	q, err := h.query(c, store.MaxSubscriberLimit)
	if err != nil {
		return err
	}
	st := h.read
	first, err := st.ListSubscribers(c.Request().Context(), q)
	if err != nil {
		return err
	}
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="subscribers.csv"`)
	res.WriteHeader(http.StatusOK)
	w := csv.NewWriter(res)
	_ = w.Write(subscriberColumns)
	page := first
	for {
		for _, sub := range page {
			confirmed := ""
			if !sub.ConfirmedAt.IsZero() {
				confirmed = sub.ConfirmedAt.Format(time.RFC3339)
			}
			_ = w.Write([]string{sub.ID, string(sub.Channel), csvSafe(sub.Address), csvSafe(sub.URL), string(sub.State), strings.Join(sub.Components, " "),
				strconv.FormatBool(sub.ComponentUpdates), sub.Language, sub.CreatedAt.Format(time.RFC3339), confirmed})
		}
		if len(page) < q.EffectiveLimit() {
			break
		}
		q.After = page[len(page)-1].ID
		if page, err = st.ListSubscribers(c.Request().Context(), q); err != nil {
			h.s.log.Error("export subscribers: the rest of the list could not be read", "err", err)
			break // the status is sent: the CSV stops short, and the log says why
		}
	}
	w.Flush()
	return w.Error()
}

// csvSafe keeps a cell from being read as a formula by a spreadsheet.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// importCSV: POST /api/admin/v1/subscribers/import?confirmed=true with a CSV body (the export's
// columns; address required). Each row is added, subscribed addresses skipped, invalid rows
// reported by row.
func (h *subscriberHandlers) importCSV(c echo.Context) error {
	for name := range c.QueryParams() {
		if name != "confirmed" {
			return fieldError(http.StatusBadRequest, "unknown_parameter", name, "unknown parameter %q (want confirmed)", truncate(name, 40))
		}
	}
	confirmed := c.QueryParam("confirmed") == "true"
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if !strings.HasPrefix(ct, "text/csv") {
		return newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send CSV with Content-Type: text/csv")
	}
	r := csv.NewReader(c.Request().Body)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err == io.EOF {
		return newError(http.StatusBadRequest, "invalid_csv", "the body is empty: send a header line and a row per subscriber")
	}
	if err != nil {
		return csvError(err)
	}
	col := map[string]int{}
	for i, name := range head {
		col[strings.TrimSpace(strings.ToLower(name))] = i
	}
	if _, ok := col["address"]; !ok {
		return newError(http.StatusBadRequest, "invalid_csv", "the header names no address column (want %s)", strings.Join(subscriberColumns, ","))
	}
	cell := func(row []string, name string) string {
		if i, ok := col[name]; ok && i < len(row) {
			return strings.TrimSpace(row[i])
		}
		return ""
	}
	var rows []service.SubscribeRequest
	for {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return csvError(err)
		}
		if len(rows) >= 10_000 {
			return newError(http.StatusRequestEntityTooLarge, "too_many_rows", "at most 10000 rows per request: send the rest in another")
		}
		req := service.SubscribeRequest{Channel: store.SubscriberChannel(cell(row, "channel")), Address: strings.TrimPrefix(cell(row, "address"), "'"),
			URL: strings.TrimPrefix(cell(row, "url"), "'"), Language: cell(row, "language"), ComponentUpdates: cell(row, "component_updates") == "true"}
		if comps := cell(row, "components"); comps != "" {
			req.Components = strings.Fields(comps)
		}
		rows = append(rows, req)
	}
	res, err := h.door.Import(c.Request().Context(), by(c), rows, confirmed)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return newError(http.StatusBadRequest, "invalid_csv", "line %d: %v", pe.Line, pe.Err)
	}
	var maxBytes *http.MaxBytesError
	if errors.As(err, &maxBytes) {
		return err
	}
	return newError(http.StatusBadRequest, "invalid_csv", "%s", fmt.Sprint(err))
}
