package statuspage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/locale"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// apiError is an error a handler returns for a client's mistake. The error handler turns it into
//
//	{"error": {"code": "...", "message": "...", "field": "..."}}
//
// with its status. Handlers never write error bodies themselves.
type apiError struct {
	Status  int           `json:"-"`
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Field   string        `json:"field,omitempty"`
	Details []fieldDetail `json:"details,omitempty"`
}

type fieldDetail struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func fieldError(status int, code, field, format string, args ...any) *apiError {
	e := newError(status, code, format, args...)
	e.Field = field
	return e
}

// validationError reports every invalid field; the first is named in Field.
func validationError(errs []*component.FieldError) *apiError {
	e := &apiError{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Field: errs[0].Field, Message: errs[0].Error()}
	for _, fe := range errs {
		e.Details = append(e.Details, fieldDetail{fe.Field, fe.Message})
	}
	return e
}

// toAPIError maps any error a handler returns to what the client sees. It is the only place
// errors become HTTP statuses.
func toAPIError(err error) (*apiError, bool) {
	var ae *apiError
	var he *echo.HTTPError
	var maxBytes *http.MaxBytesError
	var fe *component.FieldError
	var invalid *service.ValidationError
	switch {
	case errors.As(err, &ae):
		return ae, true
	case errors.As(err, &fe): // a domain rule on one field, such as the text rule on a resolution's message
		return validationError([]*component.FieldError{fe}), true
	case errors.As(err, &invalid):
		return validationError(invalid.Fields), true
	case errors.Is(err, service.ErrManagedByConfig):
		return newError(http.StatusConflict, "managed_by_config", "%s", dropSentinel(err, service.ErrManagedByConfig)), true
	case errors.Is(err, service.ErrGroupNotEmpty):
		return newError(http.StatusConflict, "group_not_empty", "%s", dropSentinel(err, service.ErrGroupNotEmpty)), true
	case errors.Is(err, incidents.ErrInvalidState), errors.Is(err, maintenance.ErrInvalidState):
		return newError(http.StatusConflict, "invalid_state", "%s", dropSentinel(err, incidents.ErrInvalidState)), true
	case errors.Is(err, incidents.ErrConflict):
		return newError(http.StatusConflict, "conflict", "%s", dropSentinel(err, incidents.ErrConflict)), true
	case errors.Is(err, maintenance.ErrNotFound), errors.Is(err, incidents.ErrNotFound):
		return newError(http.StatusNotFound, "not_found", "%s", dropSentinel(err, maintenance.ErrNotFound)), true
	case errors.As(err, &maxBytes):
		return newError(http.StatusRequestEntityTooLarge, "body_too_large", "the request body is larger than %d bytes", maxBytes.Limit), true
	case errors.Is(err, store.ErrNotFound):
		return newError(http.StatusNotFound, "not_found", "%s", trimSentinel(err, store.ErrNotFound)), true
	case errors.Is(err, store.ErrConflict):
		return newError(http.StatusConflict, "conflict", "%s", trimSentinel(err, store.ErrConflict)), true
	case errors.Is(err, store.ErrUnavailable): // a fault, not the client's: 503, to try again
		return newError(http.StatusServiceUnavailable, "unavailable", "the store is unavailable; try again shortly"), false
	case errors.Is(err, context.DeadlineExceeded):
		return newError(http.StatusServiceUnavailable, "timeout", "the request took too long"), true
	case errors.As(err, &he):
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && m != "" {
			msg = m
		}
		return newError(he.Code, codeFor(he.Code), "%s", msg), he.Code < 500
	}
	return newError(http.StatusInternalServerError, "internal", "internal error; the request id identifies it in the server's log"), false
}

// trimSentinel turns "component api: not found" into "component api not found".
func trimSentinel(err, sentinel error) string {
	msg := err.Error()
	return strings.Replace(msg, ": "+sentinel.Error(), " "+sentinel.Error(), 1)
}

// dropSentinel drops a domain sentinel that only classifies a message that already says what
// is wrong ("incident inc-1 is resolved; reopen it first: invalid state").
func dropSentinel(err, sentinel error) string {
	return strings.TrimSuffix(err.Error(), ": "+sentinel.Error())
}

func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusRequestTimeout:
		return "request_timeout"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "body_too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	return strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
}

// handleError is Echo's HTTPErrorHandler.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ae, clientFault := toAPIError(err)
	switch {
	case ae.Status == http.StatusServiceUnavailable:
		s.log.Warn("request not served", "method", clientMethod(c), "path", c.Request().URL.Path,
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID), "err", err)
	case !clientFault:
		s.log.Error("request failed", "method", clientMethod(c), "path", c.Request().URL.Path,
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID), "err", err)
	}
	switch ae.Status {
	case http.StatusUnauthorized:
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="upstate"`)
	case http.StatusServiceUnavailable:
		if c.Response().Header().Get("Retry-After") == "" {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
		}
	}
	var werr error
	switch {
	case c.Request().Method == http.MethodHead:
		werr = c.NoContent(ae.Status)
	case wantsHTML(c):
		werr = s.renderError(c, ae)
	default:
		werr = c.JSON(ae.Status, map[string]*apiError{"error": ae})
	}
	if werr != nil {
		s.log.Debug("write error response", "err", werr)
	}
}

// retryAfter is what a 503 asks a client to wait: the store is asked again (cache.go's
// faultBackoff) every second, so this is a polite multiple of it.
const retryAfter = 5 * time.Second

// staleBanner is the notice on a page served from its last good copy while the store cannot be
// read (cache.go's staleCopy): since when it has not been refreshed, in the page's zone and
// language (its <html lang>).
func (s *Server) staleBanner(since time.Time, page []byte) []byte {
	l := s.langs.Localizer(htmlLang(page))
	var buf bytes.Buffer
	if err := s.tmpl[l.Tag()].ExecuteTemplate(&buf, "stale", l.Date(since.In(s.page.Location), locale.DayTime)); err != nil {
		s.log.Error("render the stale banner", "err", err)
		return nil
	}
	return buf.Bytes()
}

// wantsHTML is true for browsers asking for a page outside the APIs.
func wantsHTML(c echo.Context) bool {
	p := c.Request().URL.Path
	if strings.HasPrefix(p, "/api/") || p == "/metrics" || p == "/healthz" || p == "/readyz" {
		return false
	}
	return strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/html")
}

// maxJSONDepth bounds nesting, so a deeply nested body cannot exhaust the stack.
const maxJSONDepth = 32

// decodeJSON reads the request body into v strictly: JSON only, no unknown fields, one value,
// bounded by the body limit. Every failure is a 4xx naming the field where there is one.
func decodeJSON(c echo.Context, v any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if ct != "" && !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send JSON with Content-Type: application/json")
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) {
			return err
		}
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return he
		}
		var ne net.Error
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			return newError(http.StatusRequestTimeout, "request_timeout", "the request body did not arrive in time")
		}
		return newError(http.StatusBadRequest, "bad_request", "reading the body: %v", err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return newError(http.StatusBadRequest, "invalid_json", "the request body is empty; send a JSON object")
	}
	if i := invalidUTF8(body); i >= 0 { // the decoder would quietly store U+FFFD instead
		return newError(http.StatusBadRequest, "invalid_json", "the body is not valid UTF-8 (at byte %d); JSON is UTF-8", i)
	}
	if depth(body) > maxJSONDepth {
		return newError(http.StatusBadRequest, "invalid_json", "the JSON is nested more than %d levels deep", maxJSONDepth)
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return newError(http.StatusBadRequest, "invalid_json", "the body holds more than one JSON value")
	}
	return nil
}

// invalidUTF8 is the offset of the first byte of b that is not UTF-8, or -1.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

func depth(b []byte) int {
	d, deepest := 0, 0
	inString, escaped := false, false
	for _, ch := range b {
		switch {
		case escaped:
			escaped = false
		case inString && ch == '\\':
			escaped = true
		case ch == '"':
			inString = !inString
		case inString:
		case ch == '{' || ch == '[':
			d++
			deepest = max(deepest, d)
		case ch == '}' || ch == ']':
			d--
		}
	}
	return deepest
}

func jsonError(err error) *apiError {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return newError(http.StatusBadRequest, "invalid_json", "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return newError(http.StatusBadRequest, "invalid_type", "the body must be a JSON object")
		}
		return fieldError(http.StatusBadRequest, "invalid_type", field, "must be %s, not a JSON %s", jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return newError(http.StatusBadRequest, "invalid_json", "the JSON ends too early")
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f = strings.Trim(f, `"`)
		return fieldError(http.StatusBadRequest, "unknown_field", f, "unknown field")
	}
	return newError(http.StatusBadRequest, "invalid_json", "%v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	case "slice":
		return "a list"
	case "struct", "map", "ptr":
		return "an object"
	}
	return "a " + goKind
}
