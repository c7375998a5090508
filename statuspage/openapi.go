package statuspage

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.yaml.in/yaml/v3"
)

// openAPIYAML is the OpenAPI 3.1 document of every route (openapi.yaml): written as YAML to be
// read and reviewed, served as JSON. openapi_test.go holds it and the router to each other.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIJSON converts the embedded document to JSON. When the document says
// x-upstate-head-on-every-get, each path with a GET and no HEAD gets a HEAD operation: the GET's
// parameters, security and responses, whose bodies HEAD leaves out.
func openAPIJSON() ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	if on, _ := doc["x-upstate-head-on-every-get"].(bool); on {
		paths, _ := doc["paths"].(map[string]any)
		for _, p := range paths {
			item, _ := p.(map[string]any)
			get, ok := item["get"].(map[string]any)
			if !ok || item["head"] != nil {
				continue
			}
			head := map[string]any{}
			for k, v := range get {
				head[k] = v
			}
			head["operationId"] = fmt.Sprint(get["operationId"]) + "Head"
			head["summary"] = "As GET, without the body."
			item["head"] = head
		}
	}
	return json.Marshal(doc)
}

// routesOpenAPI serves the document at GET /api/openapi.json. It is converted once, here: the
// embedded file is fixed at build time and its tests parse it, so a failure is a build mistake.
func (s *Server) routesOpenAPI() {
	body, err := openAPIJSON()
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	s.echo.GET("/api/openapi.json", func(c echo.Context) error {
		h := c.Response().Header()
		h.Set(echo.HeaderCacheControl, "public, max-age=300")
		h.Set("Access-Control-Allow-Origin", "*") // for API explorers served from elsewhere
		h.Set("ETag", etag)
		if c.Request().Header.Get("If-None-Match") == etag {
			return c.NoContent(http.StatusNotModified)
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, body)
	})
}
